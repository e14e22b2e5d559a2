// A mailing's messages: paged (keyset cursors), filtered by status, each with its attempts,
// last error, next attempt and why it waits, and its failed attempts in a disclosure.
import { useEffect, useState } from "preact/hooks";
import { gql } from "../api.js";
import { Notice } from "../components.js";
import { dec, html, num, STATUSES, Time } from "../format.js";

const FIRST_PAGE = (c) => (c.length === 1 && c[0] === null ? c : [null]); // keeps the array: no refetch
const PAGE = 20;
const MESSAGES = `query($id: ID!, $first: Int!, $after: String, $status: MessageStatus) {
  mailing(id: $id) { messages(first: $first, after: $after, status: $status) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { id phone status attempts lastError sentAt nextAttemptAt waitingFor
      history(first: 10) { attempt at httpStatus latencyMs errorClass error outcome } } } } } }`;

export function Messages({ id, state }) {
  const [status, setStatus] = useState("");
  const [cursors, setCursors] = useState([null]);
  const [page, setPage] = useState(null);
  const [error, setError] = useState(null);
  const [refresh, setRefresh] = useState(0);
  useEffect(() => setCursors(FIRST_PAGE), [status]);
  useEffect(() => {
    let stale = false;
    gql(MESSAGES, { id, first: PAGE, after: cursors[cursors.length - 1], status: status || null })
      .then((d) => !stale && (setPage(d.mailing.messages), setError(null)))
      .catch((e) => !stale && setError(e));
    return () => (stale = true);
  }, [id, cursors, status, state, refresh]);
  return html`<section class="card" aria-labelledby="messages-h">
    <h2 id="messages-h">Messages <small class="muted num">${page && `${num(page.totalCount)} shown by this filter`}</small></h2>
    <div class="filters">
      <div class="field"><label for="m-status">Status</label>
        <select id="m-status" value=${status} onChange=${(e) => setStatus(e.target.value)}>
          <option value="">Any status</option>
          ${STATUSES.map((s) => html`<option value=${s}>${s}</option>`)}
        </select></div>
      <button type="button" class="secondary" onClick=${() => setRefresh(refresh + 1)}>Refresh</button>
    </div>
    <${Notice} error=${error} />
    <div class="table-wrap" tabindex="0" role="region" aria-label="Messages table"><table>
      <thead><tr><th scope="col">Id</th><th scope="col">Phone</th><th scope="col">Status</th><th scope="col">Attempts</th>
        <th scope="col">Last error</th><th scope="col">Sent</th><th scope="col">Next attempt</th><th scope="col">Waiting for</th><th scope="col">History</th></tr></thead>
      <tbody>
        ${(page?.edges ?? []).map(({ node: m }) => html`<tr>
          <td class="num">${m.id}</td><td class="num">${m.phone}</td><td>${m.status}</td><td class="num">${m.attempts}</td>
          <td class="wrap">${m.lastError ?? ""}</td><td><${Time} value=${m.sentAt} /></td><td><${Time} value=${m.nextAttemptAt} /></td>
          <td>${m.waitingFor === "NONE" ? "" : m.waitingFor}</td>
          <td class="wrap">${m.history.length ? html`<details><summary>${m.history.length} failed</summary><ol class="history">
            ${m.history.map((a) => html`<li>#${a.attempt} <${Time} value=${a.at} /> · ${a.errorClass}${a.httpStatus ? ` HTTP ${a.httpStatus}` : ""} · ${a.error ?? ""}${a.latencyMs != null ? ` · ${dec(a.latencyMs)} ms` : ""} → ${a.outcome}</li>`)}
          </ol></details>` : html`<span class="muted">none</span>`}</td>
        </tr>`)}
        ${page && !page.edges.length && html`<tr><td colspan="9" class="muted">No message${status ? ` is ${status}` : " yet"}.</td></tr>`}
      </tbody>
    </table></div>
    <div class="pager">
      <button type="button" class="secondary" disabled=${cursors.length < 2} onClick=${() => setCursors(cursors.slice(0, -1))}>Previous</button>
      <button type="button" class="secondary" disabled=${!page?.pageInfo.hasNextPage} onClick=${() => setCursors([...cursors, page.pageInfo.endCursor])}>Next</button>
    </div>
  </section>`;
}
