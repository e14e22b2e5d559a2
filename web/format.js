// Numbers and times as the operator reads them: grouped digits, the browser's own time zone,
// and the UTC time on hover.
import { h } from "preact";
import htm from "htm";

export const html = htm.bind(h);

export const ZONE = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
export const STATUSES = ["SENT", "FAILED", "EXPIRED", "CANCELLED", "RETRYING", "SENDING", "PENDING"];
export const STATES = ["SCHEDULED", "RUNNING", "PAUSED", "FINISHED", "CANCELLED"];

const integer = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const decimal = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });
const local = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });

export const num = (n) => (n == null ? "–" : integer.format(n));
export const dec = (n) => (n == null ? "–" : decimal.format(n));
export const pct = (part, whole) => (whole ? `${decimal.format((100 * part) / whole)} %` : "0 %");

export function utcText(iso) {
  return `${new Date(iso).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z")} (UTC)`;
}

/** A time in the operator's zone, the UTC time in its title. */
export function Time({ value }) {
  if (!value) return html`<span class="muted">–</span>`;
  return html`<time datetime=${value} title=${utcText(value)}>${local.format(new Date(value))}</time>`;
}

export function duration(seconds) {
  if (seconds == null || !Number.isFinite(seconds)) return "–";
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

/** <input type="datetime-local"> value (operator's zone) ⇄ ISO 8601 with offset (UTC). */
export function toLocalInput(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}
export function fromLocalInput(value) {
  if (!value) return null;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

export function counts(byStatus) {
  const out = Object.fromEntries(STATUSES.map((s) => [s, 0]));
  for (const { status, count } of byStatus ?? []) out[status] = count;
  return out;
}

export const list = (text) =>
  text
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
