// Small shared pieces: the stacked status bar, labelled fields with their server error, and
// notices.
import { html, num, pct, STATUSES } from "./format.js";

/** One bar per mailing: a segment per status, widths only (no layout jumps as counts move). */
export function StatusBar({ total, byStatus, label }) {
  const segments = STATUSES.filter((s) => byStatus[s] > 0);
  const sent = byStatus.SENT ?? 0;
  const summary = STATUSES.filter((s) => byStatus[s] > 0)
    .map((s) => `${s} ${num(byStatus[s])}`)
    .join(", ");
  return html`<div class="bar-wrap">
    <div class="bar" role="img" aria-label=${`${label ?? "Messages"}: ${summary || "none yet"}`}>
      ${segments.map(
        (s) => html`<span class=${`seg s-${s}`} style=${`width:${(100 * byStatus[s]) / (total || 1)}%`} title=${`${s}: ${num(byStatus[s])}`}></span>`,
      )}
    </div>
    <span class="bar-text num" data-testid="bar-text">${pct(sent, total)} sent · ${num(sent)} / ${num(total)}</span>
  </div>`;
}

export function Legend() {
  return html`<ul class="legend" aria-label="Status colours">
    ${STATUSES.map((s) => html`<li><span class=${`swatch s-${s}`}></span>${s}</li>`)}
  </ul>`;
}

/** A labelled control with its hint and the server's error for this field (aria-linked). */
export function Field({ id, label, error, hint, children }) {
  const described = [hint ? `${id}-hint` : null, error ? `${id}-error` : null].filter(Boolean).join(" ");
  return html`<div class=${`field${error ? " invalid" : ""}`}>
    <label for=${id}>${label}</label>
    ${children({ id, "aria-describedby": described || undefined, "aria-invalid": error ? "true" : undefined })}
    ${hint && html`<small id=${`${id}-hint`} class="hint">${hint}</small>`}
    ${error && html`<small id=${`${id}-error`} class="error" role="alert">${error}</small>`}
  </div>`;
}

export function Notice({ error, message }) {
  if (error) return html`<p class="notice error" role="alert">${error.message ?? String(error)}</p>`;
  if (message) return html`<p class="notice" role="status">${message}</p>`;
  return null;
}

export function StateBadge({ state }) {
  return html`<span class=${`badge st-${state}`}>${state}</span>`;
}
