// Dashboard: overall counts (live), mailings newest first with a state filter and a search,
// each with its live stacked bar (one overallStats subscription feeds every bar).
import { useEffect, useState } from "preact/hooks";
import { gql } from "../api.js";
import { Legend, Notice, StateBadge, StatusBar } from "../components.js";
import { counts, html, num, STATES, STATUSES } from "../format.js";
import { Time } from "../format.js";
import { useLive } from "../live.js";

const FIRST_PAGE = (c) => (c.length === 1 && c[0] === null ? c : [null]); // keeps the array: no refetch
const PAGE = 20;
const MAILINGS = `query($first: Int!, $after: String, $state: MailingState, $search: String) {
  mailings(first: $first, after: $after, state: $state, search: $search) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { id text state startAt endAt createdAt stats { total byStatus { status count } } } } } }`;
const OVERALL = `subscription { overallStats { mailings messages byStatus { status count }
  perMailing { mailingId state total byStatus { status count } } } }`;

function useDebounced(value, ms = 300) {
  const [out, setOut] = useState(value);
  useEffect(() => {
    const t = setTimeout(() => setOut(value), ms);
    return () => clearTimeout(t);
  }, [value]);
  return out;
}

export function Dashboard({ role }) {
  const live = useLive(OVERALL, {}, "overall");
  const [state, setState] = useState("");
  const [search, setSearch] = useState("");
  const [cursors, setCursors] = useState([null]);
  const [page, setPage] = useState(null);
  const [error, setError] = useState(null);
  const query = useDebounced(search);
  const overall = live.data?.overallStats;
  const mailingCount = overall?.mailings;

  useEffect(() => setCursors(FIRST_PAGE), [state, query]);
  useEffect(() => {
    let stale = false;
    const vars = { first: PAGE, after: cursors[cursors.length - 1], state: state || null, search: query || null };
    gql(MAILINGS, vars)
      .then((d) => !stale && (setPage(d.mailings), setError(null)))
      .catch((e) => !stale && setError(e));
    return () => (stale = true);
  }, [cursors, state, query, mailingCount]); // a new or deleted mailing refreshes the list

  const perMailing = new Map((overall?.perMailing ?? []).map((m) => [m.mailingId, m]));
  const totals = counts(overall?.byStatus);
  return html`<main id="main">
    <div class="head"><h1>Dashboard</h1>
      ${role === "ADMIN" && html`<a class="button" href="#/mailings/new">New mailing</a>`}</div>
    <section aria-labelledby="overall-h" class="card">
      <h2 id="overall-h">All messages ${live.error && html`<small class="error">(live updates lost: ${live.error.message})</small>`}</h2>
      <dl class="counts">
        <div><dt>Mailings</dt><dd class="num" data-testid="overall-mailings">${num(overall?.mailings)}</dd></div>
        <div><dt>Messages</dt><dd class="num" data-testid="overall-messages">${num(overall?.messages)}</dd></div>
        ${STATUSES.map((s) => html`<div><dt>${s}</dt><dd class="num">${num(overall ? totals[s] : null)}</dd></div>`)}
      </dl>
    </section>
    <section aria-labelledby="mailings-h">
      <h2 id="mailings-h">Mailings <small class="muted num">${page && `${num(page.totalCount)} found`}</small></h2>
      <form class="filters" role="search" onSubmit=${(e) => e.preventDefault()}>
        <div class="field"><label for="f-state">State</label>
          <select id="f-state" value=${state} onChange=${(e) => setState(e.target.value)}>
            <option value="">Any state</option>
            ${STATES.map((s) => html`<option value=${s}>${s}</option>`)}
          </select></div>
        <div class="field"><label for="f-search">Search the text</label>
          <input id="f-search" type="search" value=${search} onInput=${(e) => setSearch(e.target.value)} /></div>
      </form>
      <${Legend} />
      <${Notice} error=${error} />
      <ul class="mailings">
        ${(page?.edges ?? []).map(({ node }) => {
          const stats = perMailing.get(node.id) ?? { ...node.stats, state: node.state };
          return html`<li class="card mailing-row" data-mailing=${node.id}>
            <div class="row-head">
              <a href=${`#/mailings/${node.id}`} class="title">#${node.id} ${node.text.slice(0, 80)}</a>
              <${StateBadge} state=${stats.state} />
            </div>
            <div class="muted small">Starts <${Time} value=${node.startAt} /> · ends <${Time} value=${node.endAt} /></div>
            <${StatusBar} total=${stats.total} byStatus=${counts(stats.byStatus)} label=${`Mailing ${node.id}`} />
          </li>`;
        })}
        ${page && !page.edges.length && html`<li class="muted">No mailing matches.</li>`}
      </ul>
      <div class="pager">
        <button type="button" class="secondary" disabled=${cursors.length < 2} onClick=${() => setCursors(cursors.slice(0, -1))}>Previous</button>
        <button type="button" class="secondary" disabled=${!page?.pageInfo.hasNextPage} onClick=${() => setCursors([...cursors, page.pageInfo.endCursor])}>Next</button>
      </div>
    </section>
  </main>`;
}
