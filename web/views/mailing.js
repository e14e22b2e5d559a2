// A mailing: settings, live counts and progress (rate, estimated finish), the live delivery
// chart, its messages (paged, by status, with their attempt history) and the actions.
import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError, download, gql } from "../api.js";
import { Legend, Notice, StateBadge, StatusBar } from "../components.js";
import { counts, dec, duration, html, num, STATUSES, Time } from "../format.js";
import { useLive } from "../live.js";
import { Timeline } from "./timeline.js";
import { Messages } from "./messages.js";

const MAILING = `query($id: ID!) { mailing(id: $id) { id text state startAt endAt createdAt
  filter { operatorCodes tags } window { start end } } }`;
const STATS = `subscription($id: ID!) { mailingStats(id: $id) { state total byStatus { status count } } }`;
const ACTION = (name) => `mutation($id: ID!) { ${name}(id: $id) { id state } }`;
const CLONE = `mutation($id: ID!) { cloneMailing(id: $id) { id } }`;
const DELETE = `mutation($id: ID!) { deleteMailing(id: $id) }`;
const TEST_SEND = `mutation($id: ID!, $phone: String!) { testSend(mailingId: $id, phone: $phone) {
  outcome httpStatus error latencyMs } }`;
const OPEN = ["SCHEDULED", "RUNNING", "PAUSED"];
const FINAL = ["SENT", "FAILED", "EXPIRED", "CANCELLED"];
const RATE_WINDOW = 10_000; // ms of samples behind the current rate

/** Sent per second over the last RATE_WINDOW, from the coalesced snapshots. */
function useRate(sent) {
  const samples = useRef([]);
  const now = performance.now();
  const list = samples.current;
  if (sent != null && (!list.length || list[list.length - 1].sent !== sent)) list.push({ t: now, sent });
  while (list.length > 2 && now - list[1].t > RATE_WINDOW) list.shift();
  if (list.length < 2) return null;
  const first = list[0];
  const last = list[list.length - 1];
  return last.t > first.t ? ((last.sent - first.sent) * 1000) / (last.t - first.t) : null;
}

export function MailingPage({ id, role }) {
  const [mailing, setMailing] = useState(null);
  const [error, setError] = useState(null);
  const [message, setMessage] = useState(null);
  const [busy, setBusy] = useState(false);
  const live = useLive(STATS, { id }, id);
  const stats = live.data?.mailingStats;
  const state = stats?.state ?? mailing?.state;
  useEffect(() => {
    gql(MAILING, { id })
      .then((d) => (d.mailing ? setMailing(d.mailing) : setError(new Error(`Mailing ${id} does not exist.`))))
      .catch(setError);
  }, [id, state]);
  const byStatus = counts(stats?.byStatus);
  const total = stats?.total ?? 0;
  const rate = useRate(stats ? byStatus.SENT : null);
  const remaining = byStatus.PENDING + byStatus.SENDING + byStatus.RETRYING;
  const eta = rate > 0 && state === "RUNNING" ? remaining / rate : null;

  async function act(run, done) {
    setBusy(true);
    setError(null);
    setMessage(null);
    try {
      await done(await run());
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  }
  const simple = (name, verb) => () => act(() => gql(ACTION(name), { id }), (d) => (setMailing({ ...mailing, state: d[name].state }), setMessage(`Mailing ${verb}.`)));
  const clone = () => act(() => gql(CLONE, { id }), (d) => (location.hash = `#/mailings/${d.cloneMailing.id}`));
  const remove = () =>
    confirm(`Delete mailing ${id} and all its messages?`) && act(() => gql(DELETE, { id }), () => (location.hash = "#/"));

  if (!mailing) return html`<main id="main"><h1>Mailing ${id}</h1><${Notice} error=${error} message=${error ? null : "Loading…"} /></main>`;
  return html`<main id="main">
    <div class="head">
      <h1>Mailing #${id} <${StateBadge} state=${state} /></h1>
      ${role === "ADMIN" &&
      html`<div class="actions" role="group" aria-label="Actions">
        ${state === "RUNNING" && html`<button type="button" disabled=${busy} onClick=${simple("pauseMailing", "paused")}>Pause</button>`}
        ${state === "PAUSED" && html`<button type="button" disabled=${busy} onClick=${simple("resumeMailing", "resumed")}>Resume</button>`}
        ${OPEN.includes(state) && html`<a class="button secondary" href=${`#/mailings/${id}/edit`}>Edit</a>`}
        ${OPEN.includes(state) &&
        html`<button type="button" class="secondary" disabled=${busy} onClick=${() => confirm(`Cancel mailing ${id}? Unsent messages will not be sent.`) && simple("cancelMailing", "cancelled")()}>Cancel</button>`}
        <button type="button" class="secondary" disabled=${busy} onClick=${clone}>Clone</button>
        <button type="button" class="danger" disabled=${busy} onClick=${remove}>Delete</button>
      </div>`}
    </div>
    <${Notice} error=${error} message=${message} />
    <div class="grid">
      <section class="card" aria-labelledby="settings-h">
        <h2 id="settings-h">Settings</h2>
        <dl class="settings">
          <dt>Text</dt><dd class="text">${mailing.text}</dd>
          <dt>Start</dt><dd><${Time} value=${mailing.startAt} /></dd>
          <dt>End</dt><dd><${Time} value=${mailing.endAt} /></dd>
          <dt>Operator codes</dt><dd>${mailing.filter.operatorCodes.join(", ") || "any"}</dd>
          <dt>Tags</dt><dd>${mailing.filter.tags.join(", ") || "any"}</dd>
          <dt>Window</dt><dd>${mailing.window ? `${mailing.window.start}–${mailing.window.end} in each client's zone` : "any time"}</dd>
          <dt>Created</dt><dd><${Time} value=${mailing.createdAt} /></dd>
        </dl>
        <p class="exports">
          <button type="button" class="link" onClick=${() => download(`/export/mailings/${id}/messages.csv`, `mailing-${id}-messages.csv`).catch(setError)}>Export messages (CSV)</button>
          <button type="button" class="link" onClick=${() => download(`/export/mailings/${id}/stats.csv`, `mailing-${id}-stats.csv`).catch(setError)}>Export counts (CSV)</button>
        </p>
      </section>
      <section class="card" aria-labelledby="progress-h">
        <h2 id="progress-h">Progress ${live.error && html`<small class="error">(live updates lost)</small>`}</h2>
        <${StatusBar} total=${total} byStatus=${byStatus} label=${`Mailing ${id}`} />
        <dl class="counts">
          <div><dt>Sent / total</dt><dd class="num" data-testid="sent-total">${num(byStatus.SENT)} / ${num(total)}</dd></div>
          <div><dt>Current rate</dt><dd class="num" data-testid="rate">${rate == null ? "–" : `${dec(rate)} /s`}</dd></div>
          <div><dt>Estimated finish</dt><dd class="num" data-testid="eta">${eta == null ? "–" : `in ${duration(eta)}`}</dd></div>
          <div><dt>Final</dt><dd class="num">${num(FINAL.reduce((n, s) => n + byStatus[s], 0))}</dd></div>
        </dl>
        <dl class="counts small">
          ${STATUSES.map((s) => html`<div><dt>${s}</dt><dd class="num" data-testid=${`count-${s}`}>${num(byStatus[s])}</dd></div>`)}
        </dl>
        <${Legend} />
      </section>
    </div>
    <${Timeline} id=${id} startAt=${mailing.startAt} state=${state} tick=${stats} />
    ${role === "ADMIN" && html`<${TestSend} id=${id} />`}
    <${Messages} id=${id} state=${state} />
  </main>`;
}

function TestSend({ id }) {
  const [phone, setPhone] = useState("");
  const [result, setResult] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  async function submit(event) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    setResult(null);
    try {
      setResult((await gql(TEST_SEND, { id, phone })).testSend);
    } catch (e) {
      setError(e instanceof ApiError ? e.byField().phone ?? e.message : e.message);
    } finally {
      setBusy(false);
    }
  }
  return html`<section class="card" aria-labelledby="test-h">
    <h2 id="test-h">Test send</h2>
    <form class="inline" onSubmit=${submit}>
      <div class=${`field${error ? " invalid" : ""}`}>
        <label for="test-phone">Phone (7 and 10 digits)</label>
        <input id="test-phone" inputmode="numeric" required value=${phone} aria-describedby=${error ? "test-phone-error" : undefined} onInput=${(e) => setPhone(e.target.value)} />
        ${error && html`<small id="test-phone-error" class="error" role="alert">${error}</small>`}
      </div>
      <button type="submit" disabled=${busy}>Send the text now</button>
    </form>
    ${result && html`<p role="status">Outcome: <strong>${result.outcome}</strong>${result.httpStatus ? ` (HTTP ${result.httpStatus})` : ""}${result.error ? ` · ${result.error}` : ""}${result.latencyMs != null ? ` · ${dec(result.latencyMs)} ms` : ""}</p>`}
  </section>`;
}
