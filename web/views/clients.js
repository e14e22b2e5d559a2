// Clients: search by phone prefix, filter by tag and operator code, create, edit, delete, and
// import a CSV file with the rows the server refused listed by line and field.
import { useEffect, useState } from "preact/hooks";
import { ApiError, gql } from "../api.js";
import { Field, Notice } from "../components.js";
import { html, list, num, Time } from "../format.js";
import { clientRows } from "./csv.js";

const PAGE = 25;
const LIST = `query($first: Int!, $after: String, $p: String, $tags: [String!], $codes: [String!]) {
  clients(first: $first, after: $after, phonePrefix: $p, tags: $tags, operatorCodes: $codes) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { id phone operatorCode tag timezone updatedAt } } } }`;
const CREATE = `mutation($c: ClientInput!) { createClient(input: $c) { id } }`;
const UPDATE = `mutation($id: ID!, $c: ClientPatch!) { updateClient(id: $id, input: $c) { id } }`;
const DELETE = `mutation($id: ID!) { deleteClient(id: $id) }`;
const IMPORT = `mutation($c: [ClientInput!]!) { importClients(clients: $c) { created updated errors { row field message } } }`;

const empty = { phone: "", operatorCode: "", tag: "", timezone: Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC" };

function ClientForm({ client, onDone }) {
  const [v, setV] = useState(client ? { ...client, operatorCode: client.operatorCode ?? "", tag: client.tag ?? "" } : empty);
  const [errors, setErrors] = useState({});
  const [busy, setBusy] = useState(false);
  const set = (name) => (e) => setV({ ...v, [name]: e.target.value });
  const prefix = client ? `c${client.id}` : "new";
  async function submit(event) {
    event.preventDefault();
    setBusy(true);
    setErrors({});
    const input = { phone: v.phone, timezone: v.timezone, operatorCode: v.operatorCode || null, tag: v.tag || null };
    try {
      if (client) await gql(UPDATE, { id: client.id, c: input });
      else await gql(CREATE, { c: input });
      if (!client) setV(empty);
      onDone(client ? `Client ${v.phone} saved.` : `Client ${v.phone} created.`);
    } catch (e) {
      setErrors(e instanceof ApiError ? e.byField() : { "": e.message });
    } finally {
      setBusy(false);
    }
  }
  return html`<form class="client-form" onSubmit=${submit} noValidate aria-label=${client ? `Edit client ${client.phone}` : "New client"}>
    ${errors[""] && html`<p class="error" role="alert">${errors[""]}</p>`}
    <${Field} id=${`${prefix}-phone`} label="Phone" error=${errors.phone} hint="7 and 10 digits, e.g. 79161234567.">
      ${(a) => html`<input ...${a} inputmode="numeric" value=${v.phone} onInput=${set("phone")} />`}<//>
    <${Field} id=${`${prefix}-code`} label="Operator code" error=${errors.operatorCode} hint="Empty: digits 2-4 of the phone.">
      ${(a) => html`<input ...${a} inputmode="numeric" value=${v.operatorCode} onInput=${set("operatorCode")} />`}<//>
    <${Field} id=${`${prefix}-tag`} label="Tag" error=${errors.tag}>
      ${(a) => html`<input ...${a} value=${v.tag} onInput=${set("tag")} />`}<//>
    <${Field} id=${`${prefix}-zone`} label="Time zone" error=${errors.timezone} hint="IANA name, e.g. Europe/Moscow.">
      ${(a) => html`<input ...${a} value=${v.timezone} onInput=${set("timezone")} />`}<//>
    <div class="actions"><button type="submit" disabled=${busy}>${client ? "Save" : "Create client"}</button>
      ${client && html`<button type="button" class="secondary" onClick=${() => onDone(null)}>Cancel</button>`}</div>
  </form>`;
}

function Import({ onDone }) {
  const [result, setResult] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  async function submit(event) {
    event.preventDefault();
    const file = event.target.elements.file.files[0];
    setResult(null);
    setError(null);
    if (!file) return setError("Choose a CSV file.");
    const parsed = clientRows(await file.text());
    if (parsed.error) return setError(parsed.error);
    setBusy(true);
    try {
      setResult((await gql(IMPORT, { c: parsed.clients })).importClients);
      onDone();
    } catch (e) {
      setError(e.message);
    } finally {
      setBusy(false);
    }
  }
  return html`<form class="card" onSubmit=${submit} aria-labelledby="import-h">
    <h2 id="import-h">Import clients</h2>
    <p class="muted small">First line: <code>phone,timezone,operator_code,tag</code> (any order; operator code and tag optional). Rows are matched by phone: existing clients are updated.</p>
    <div class=${`field${error ? " invalid" : ""}`}>
      <label for="import-file">CSV file</label>
      <input id="import-file" name="file" type="file" accept=".csv,text/csv" aria-describedby=${error ? "import-error" : undefined} />
      ${error && html`<small id="import-error" class="error" role="alert">${error}</small>`}
    </div>
    <button type="submit" disabled=${busy}>Import</button>
    ${result && html`<div role="status" class="import-result">
      <p><strong class="num">${num(result.created)}</strong> created, <strong class="num">${num(result.updated)}</strong> updated, <strong class="num">${num(result.errors.length)}</strong> refused.</p>
      ${result.errors.length > 0 && html`<table><caption>Rows refused</caption>
        <thead><tr><th scope="col">Line</th><th scope="col">Field</th><th scope="col">Problem</th></tr></thead>
        <tbody>${result.errors.map((e) => html`<tr><td class="num">${e.row + 2}</td><td>${e.field ?? ""}</td><td>${e.message}</td></tr>`)}</tbody></table>
        <p class="muted small">Line numbers count the header as line 1.</p>`}
    </div>`}
  </form>`;
}

export function Clients({ role }) {
  const admin = role === "ADMIN";
  const [filters, setFilters] = useState({ phone: "", tags: "", codes: "" });
  const [applied, setApplied] = useState(filters);
  const [cursors, setCursors] = useState([null]);
  const [page, setPage] = useState(null);
  const [error, setError] = useState(null);
  const [message, setMessage] = useState(null);
  const [editing, setEditing] = useState(null);
  const [version, setVersion] = useState(0);
  useEffect(() => {
    const t = setTimeout(() => {
      setApplied((a) => (JSON.stringify(a) === JSON.stringify(filters) ? a : filters));
      setCursors((c) => (c.length === 1 && c[0] === null ? c : [null]));
    }, 300);
    return () => clearTimeout(t);
  }, [filters]);
  useEffect(() => {
    let stale = false;
    const vars = { first: PAGE, after: cursors[cursors.length - 1], p: applied.phone.trim() || null, tags: list(applied.tags), codes: list(applied.codes) };
    gql(LIST, vars)
      .then((d) => !stale && (setPage(d.clients), setError(null)))
      .catch((e) => !stale && setError(e));
    return () => (stale = true);
  }, [applied, cursors, version]);
  const refresh = (text) => (setEditing(null), text && setMessage(text), setVersion((n) => n + 1));
  const remove = async (c) => {
    if (!confirm(`Delete client ${c.phone}? Its unsent messages are cancelled.`)) return;
    try {
      await gql(DELETE, { id: c.id });
      refresh(`Client ${c.phone} deleted.`);
    } catch (e) {
      setError(e);
    }
  };
  const set = (name) => (e) => setFilters({ ...filters, [name]: e.target.value });
  return html`<main id="main">
    <h1>Clients</h1>
    <${Notice} error=${error} message=${message} />
    ${admin && html`<div class="grid">
      <section class="card" aria-labelledby="new-client-h"><h2 id="new-client-h">New client</h2><${ClientForm} onDone=${refresh} /></section>
      <${Import} onDone=${() => refresh(null)} />
    </div>`}
    <section aria-labelledby="list-h">
      <h2 id="list-h">Directory <small class="muted num">${page && `${num(page.totalCount)} found`}</small></h2>
      <form class="filters" role="search" onSubmit=${(e) => e.preventDefault()}>
        <div class="field"><label for="c-phone">Phone starts with</label><input id="c-phone" inputmode="numeric" value=${filters.phone} onInput=${set("phone")} /></div>
        <div class="field"><label for="c-tags">Tags (comma-separated)</label><input id="c-tags" value=${filters.tags} onInput=${set("tags")} /></div>
        <div class="field"><label for="c-codes">Operator codes (comma-separated)</label><input id="c-codes" inputmode="numeric" value=${filters.codes} onInput=${set("codes")} /></div>
      </form>
      <div class="table-wrap" tabindex="0" role="region" aria-label="Clients table"><table>
        <thead><tr><th scope="col">Phone</th><th scope="col">Operator</th><th scope="col">Tag</th><th scope="col">Time zone</th><th scope="col">Updated</th>${admin && html`<th scope="col">Actions</th>`}</tr></thead>
        <tbody>${(page?.edges ?? []).map(({ node: c }) =>
          editing === c.id
            ? html`<tr><td colspan=${admin ? 6 : 5}><${ClientForm} client=${c} onDone=${refresh} /></td></tr>`
            : html`<tr><td class="num">${c.phone}</td><td class="num">${c.operatorCode}</td><td>${c.tag ?? ""}</td><td>${c.timezone}</td><td><${Time} value=${c.updatedAt} /></td>
              ${admin && html`<td class="row-actions"><button type="button" class="secondary" aria-label=${`Edit ${c.phone}`} onClick=${() => setEditing(c.id)}>Edit</button>
                <button type="button" class="danger" aria-label=${`Delete ${c.phone}`} onClick=${() => remove(c)}>Delete</button></td>`}</tr>`,
        )}
        ${page && !page.edges.length && html`<tr><td colspan="6" class="muted">No client matches.</td></tr>`}</tbody>
      </table></div>
      <div class="pager">
        <button type="button" class="secondary" disabled=${cursors.length < 2} onClick=${() => setCursors(cursors.slice(0, -1))}>Previous</button>
        <button type="button" class="secondary" disabled=${!page?.pageInfo.hasNextPage} onClick=${() => setCursors([...cursors, page.pageInfo.endCursor])}>Next</button>
      </div>
    </section>
  </main>`;
}
