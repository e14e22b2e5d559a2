// Create or edit a mailing: text, start/end in the operator's zone, the audience filter with
// a live "N clients match" and per-zone preview, the local-time window; every server error is
// shown next to the field its extensions.field names.
import { useEffect, useState } from "preact/hooks";
import { ApiError, gql } from "../api.js";
import { Field, Notice } from "../components.js";
import { fromLocalInput, html, list, num, Time, toLocalInput, ZONE } from "../format.js";

const GET = `query($id: ID!) { mailing(id: $id) { id text state startAt endAt
  filter { operatorCodes tags } window { start end } } }`;
const CREATE = `mutation($m: MailingInput!, $k: String) { createMailing(input: $m, idempotencyKey: $k) { id } }`;
const UPDATE = `mutation($id: ID!, $p: MailingPatch!) { updateMailing(id: $id, input: $p) { id } }`;
const AUDIENCE = `query($f: AudienceFilterInput!, $w: TimeWindowInput, $s: DateTime, $e: DateTime) {
  audience(filter: $f, window: $w, startAt: $s, endAt: $e) { count reachable byTimezone { zone count opensBeforeEnd opensAt } } }`;

/** extensions.field → the form's field ("filter.tags[2]" → "tags", "window.start" → "window"). */
export function formField(field) {
  if (!field) return "";
  if (field.startsWith("filter.operatorCodes") || field === "operatorCodes") return "operatorCodes";
  if (field.startsWith("filter.tags") || field === "tags") return "tags";
  if (field.startsWith("filter")) return "tags";
  if (field.startsWith("window")) return "window";
  return field.split(".").pop();
}

function blank() {
  const start = new Date(Date.now() + 60_000);
  return {
    text: "",
    startAt: toLocalInput(start.toISOString()),
    endAt: toLocalInput(new Date(start.getTime() + 24 * 3600_000).toISOString()),
    operatorCodes: "",
    tags: "",
    windowOn: false,
    windowStart: "09:00",
    windowEnd: "20:00",
  };
}

function fromMailing(m) {
  return {
    text: m.text,
    startAt: toLocalInput(m.startAt),
    endAt: toLocalInput(m.endAt),
    operatorCodes: m.filter.operatorCodes.join(", "),
    tags: m.filter.tags.join(", "),
    windowOn: Boolean(m.window),
    windowStart: m.window?.start.slice(0, 5) ?? "09:00",
    windowEnd: m.window?.end.slice(0, 5) ?? "20:00",
  };
}

function inputs(v) {
  return {
    text: v.text,
    startAt: fromLocalInput(v.startAt),
    endAt: fromLocalInput(v.endAt),
    filter: { operatorCodes: list(v.operatorCodes), tags: list(v.tags) },
    window: v.windowOn ? { start: v.windowStart, end: v.windowEnd } : null,
  };
}

function Preview({ values }) {
  const [audience, setAudience] = useState(null);
  const [error, setError] = useState(null);
  const m = inputs(values);
  const key = JSON.stringify([m.filter, m.window, m.startAt, m.endAt]);
  useEffect(() => {
    let stale = false;
    const t = setTimeout(() => {
      gql(AUDIENCE, { f: m.filter, w: m.window, s: m.window ? m.startAt : null, e: m.window ? m.endAt : null })
        .then((d) => !stale && (setAudience(d.audience), setError(null)))
        .catch((e) => !stale && setError(e));
    }, 300);
    return () => ((stale = true), clearTimeout(t));
  }, [key]);
  return html`<aside class="card preview" aria-labelledby="preview-h" aria-live="polite">
    <h2 id="preview-h">Audience</h2>
    ${error && html`<p class="error">${error.message}</p>`}
    ${audience &&
    html`<p class="big num" data-testid="audience-count">${num(audience.count)} clients match</p>
      ${audience.reachable != null && html`<p class="num">${num(audience.reachable)} of them in zones where the window opens before the end</p>`}
      <table><caption class="sr">Clients per time zone</caption>
        <thead><tr><th scope="col">Zone</th><th scope="col">Clients</th>${audience.reachable != null && html`<th scope="col">Window opens</th>`}</tr></thead>
        <tbody>${audience.byTimezone.map((z) => html`<tr><td>${z.zone}</td><td class="num">${num(z.count)}</td>
          ${audience.reachable != null && html`<td>${z.opensBeforeEnd ? html`yes, <${Time} value=${z.opensAt} />` : "no"}</td>`}</tr>`)}</tbody>
      </table>`}
  </aside>`;
}

export function MailingForm({ id }) {
  const [values, setValues] = useState(id ? null : blank());
  const [state, setState] = useState("SCHEDULED");
  const [errors, setErrors] = useState({});
  const [busy, setBusy] = useState(false);
  const [key] = useState(() => crypto.randomUUID?.() ?? String(Math.random()).slice(2));
  useEffect(() => {
    if (!id) return;
    gql(GET, { id })
      .then((d) => (setValues(fromMailing(d.mailing)), setState(d.mailing.state)))
      .catch((e) => setErrors({ "": e.message }));
  }, [id]);
  if (!values) return html`<main id="main"><h1>Edit mailing ${id}</h1><${Notice} error=${errors[""]} message="Loading…" /></main>`;
  const locked = state !== "SCHEDULED"; // running or paused: only endAt and the window
  const set = (name) => (e) => setValues({ ...values, [name]: e.target.type === "checkbox" ? e.target.checked : e.target.value });

  async function submit(event) {
    event.preventDefault();
    setBusy(true);
    setErrors({});
    const m = inputs(values);
    const local = {};
    if (!m.startAt) local.startAt = "Choose a start date and time.";
    if (!m.endAt) local.endAt = "Choose an end date and time.";
    if (Object.keys(local).length) return (setErrors(local), setBusy(false));
    try {
      if (id) {
        const patch = locked ? { endAt: m.endAt, window: m.window } : m;
        await gql(UPDATE, { id, p: patch });
        location.hash = `#/mailings/${id}`;
      } else {
        const d = await gql(CREATE, { m, k: key });
        location.hash = `#/mailings/${d.createMailing.id}`;
      }
    } catch (e) {
      if (!(e instanceof ApiError)) return setErrors({ "": e.message });
      const out = {};
      for (const [field, text] of Object.entries(e.byField())) {
        const name = formField(field);
        out[name] = out[name] ? `${out[name]}; ${text}` : text;
      }
      setErrors(out);
    } finally {
      setBusy(false);
    }
  }

  const known = ["text", "startAt", "endAt", "operatorCodes", "tags", "window"];
  const other = Object.entries(errors).filter(([f]) => !known.includes(f));
  return html`<main id="main">
    <h1>${id ? `Edit mailing #${id}` : "New mailing"}</h1>
    ${locked && html`<p class="notice" role="status">This mailing is ${state}: only its end and window can change.</p>`}
    ${other.map(([f, text]) => html`<p class="notice error" role="alert">${f ? `${f}: ` : ""}${text}</p>`)}
    <div class="form-grid">
      <form onSubmit=${submit} noValidate>
        <${Field} id="m-text" label="Text" error=${errors.text} hint="At most 1,000 characters.">
          ${(a) => html`<textarea ...${a} rows="4" disabled=${locked} value=${values.text} onInput=${set("text")}></textarea>`}
        <//>
        <div class="two">
          <${Field} id="m-start" label=${`Start (${ZONE})`} error=${errors.startAt} hint="In your time zone; a start in the past starts at once.">
            ${(a) => html`<input ...${a} type="datetime-local" disabled=${locked} value=${values.startAt} onInput=${set("startAt")} />`}
          <//>
          <${Field} id="m-end" label=${`End (${ZONE})`} error=${errors.endAt} hint="In your time zone; nothing is sent after it.">
            ${(a) => html`<input ...${a} type="datetime-local" value=${values.endAt} onInput=${set("endAt")} />`}
          <//>
        </div>
        <fieldset disabled=${locked}>
          <legend>Audience</legend>
          <${Field} id="m-codes" label="Operator codes" error=${errors.operatorCodes} hint="Comma-separated, e.g. 916, 903. Empty: any operator.">
            ${(a) => html`<input ...${a} value=${values.operatorCodes} onInput=${set("operatorCodes")} />`}
          <//>
          <${Field} id="m-tags" label="Tags" error=${errors.tags} hint="Comma-separated. Empty: any tag.">
            ${(a) => html`<input ...${a} value=${values.tags} onInput=${set("tags")} />`}
          <//>
        </fieldset>
        <fieldset>
          <legend>Local-time window</legend>
          <div class="check"><input id="m-window" type="checkbox" checked=${values.windowOn} onChange=${set("windowOn")} />
            <label for="m-window">Send only between these hours in each client's own time zone</label></div>
          <div class="two">
            <${Field} id="m-wstart" label="From (client's local time)" error=${errors.window}>
              ${(a) => html`<input ...${a} type="time" disabled=${!values.windowOn} value=${values.windowStart} onInput=${set("windowStart")} />`}
            <//>
            <${Field} id="m-wend" label="Until (client's local time)" hint="Earlier than From: the window wraps midnight.">
              ${(a) => html`<input ...${a} type="time" disabled=${!values.windowOn} value=${values.windowEnd} onInput=${set("windowEnd")} />`}
            <//>
          </div>
        </fieldset>
        <div class="actions">
          <button type="submit" disabled=${busy}>${id ? "Save" : "Create mailing"}</button>
          <a class="button secondary" href=${id ? `#/mailings/${id}` : "#/"}>Back</a>
        </div>
      </form>
      <${Preview} values=${values} />
    </div>
  </main>`;
}
