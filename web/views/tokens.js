// Tokens (admin): the list, a new token whose secret is shown once, and revoking.
import { useEffect, useState } from "preact/hooks";
import { ApiError, gql } from "../api.js";
import { Field, Notice } from "../components.js";
import { html, num, Time } from "../format.js";

const LIST = `query($all: Boolean!) { tokens(first: 100, includeRevoked: $all) { totalCount
  edges { node { id name role createdAt lastUsedAt revokedAt } } } }`;
const CREATE = `mutation($role: TokenRole!, $name: String!) { createToken(role: $role, name: $name) { token apiToken { id name role } } }`;
const REVOKE = `mutation($id: ID!) { revokeToken(id: $id) { id revokedAt } }`;

export function Tokens() {
  const [all, setAll] = useState(false);
  const [tokens, setTokens] = useState(null);
  const [error, setError] = useState(null);
  const [version, setVersion] = useState(0);
  const [name, setName] = useState("");
  const [role, setRole] = useState("VIEWER");
  const [errors, setErrors] = useState({});
  const [created, setCreated] = useState(null);
  useEffect(() => {
    gql(LIST, { all }).then((d) => (setTokens(d.tokens), setError(null))).catch(setError);
  }, [all, version]);
  async function create(event) {
    event.preventDefault();
    setErrors({});
    setCreated(null);
    try {
      setCreated((await gql(CREATE, { role, name })).createToken);
      setName("");
      setVersion(version + 1);
    } catch (e) {
      setErrors(e instanceof ApiError ? e.byField() : { "": e.message });
    }
  }
  async function revoke(t) {
    if (!confirm(`Revoke token ${t.id} (${t.name || "unnamed"})? It stops working at once.`)) return;
    try {
      await gql(REVOKE, { id: t.id });
      setVersion(version + 1);
    } catch (e) {
      setError(e);
    }
  }
  return html`<main id="main">
    <h1>API tokens</h1>
    <${Notice} error=${error} />
    <section class="card" aria-labelledby="new-token-h">
      <h2 id="new-token-h">New token</h2>
      <form class="inline" onSubmit=${create} noValidate>
        <${Field} id="t-name" label="Name" error=${errors.name ?? errors[""]} hint="Shown in the list and the audit log.">
          ${(a) => html`<input ...${a} value=${name} onInput=${(e) => setName(e.target.value)} />`}<//>
        <${Field} id="t-role" label="Role" error=${errors.role}>
          ${(a) => html`<select ...${a} value=${role} onChange=${(e) => setRole(e.target.value)}>
            <option value="VIEWER">Viewer (read only)</option><option value="ADMIN">Admin</option></select>`}<//>
        <button type="submit">Create token</button>
      </form>
      ${created && html`<div class="secret" role="status">
        <p><strong>Copy this ${created.apiToken.role.toLowerCase()} token now: it is shown only once.</strong></p>
        <label for="t-secret">Token ${created.apiToken.id}</label>
        <input id="t-secret" readonly value=${created.token} onFocus=${(e) => e.target.select()} />
        <button type="button" class="secondary" onClick=${() => navigator.clipboard?.writeText(created.token)}>Copy</button>
      </div>`}
    </section>
    <section aria-labelledby="tokens-h">
      <h2 id="tokens-h">Tokens <small class="muted num">${tokens && `${num(tokens.totalCount)}`}</small></h2>
      <div class="check"><input id="t-all" type="checkbox" checked=${all} onChange=${(e) => setAll(e.target.checked)} /><label for="t-all">Show revoked tokens</label></div>
      <div class="table-wrap" tabindex="0" role="region" aria-label="Tokens table"><table>
        <thead><tr><th scope="col">Id</th><th scope="col">Name</th><th scope="col">Role</th><th scope="col">Created</th><th scope="col">Last used</th><th scope="col">Revoked</th><th scope="col">Actions</th></tr></thead>
        <tbody>${(tokens?.edges ?? []).map(({ node: t }) => html`<tr>
          <td class="num">${t.id}</td><td>${t.name}</td><td>${t.role}</td><td><${Time} value=${t.createdAt} /></td><td><${Time} value=${t.lastUsedAt} /></td><td><${Time} value=${t.revokedAt} /></td>
          <td>${!t.revokedAt && html`<button type="button" class="danger" aria-label=${`Revoke token ${t.id}`} onClick=${() => revoke(t)}>Revoke</button>`}</td></tr>`)}
        ${tokens && !tokens.edges.length && html`<tr><td colspan="7" class="muted">No token in the database (API_ADMIN_TOKEN is not listed).</td></tr>`}</tbody>
      </table></div>
    </section>
  </main>`;
}
