// The one way the UI talks to Herald: GraphQL over HTTP (queries, mutations), graphql-ws for
// the live statistics, and the CSV export, all with the bearer token kept in sessionStorage.
import { createClient } from "graphql-ws";

const KEY = "herald.token";
let onSignedOut = () => {};
let ws = null;
let active = false; // signed in: a refusal from now on signs out with a message

export const session = {
  token: () => sessionStorage.getItem(KEY),
  save(token) {
    sessionStorage.setItem(KEY, token);
  },
  /** The token was accepted: a later refusal (revoked, say) returns to sign-in. */
  accepted() {
    active = true;
  },
  clear() {
    active = false;
    sessionStorage.removeItem(KEY);
    // dispose() awaits the connection, which rejects when the server closed it (4401)
    if (ws) Promise.resolve(ws.dispose()).catch(() => {});
    ws = null;
  },
  /** Called with a message when the server refuses the token (invalid or revoked). */
  onSignedOut(handler) {
    onSignedOut = handler;
  },
};

function refused(message) {
  const was = active;
  session.clear();
  if (was) onSignedOut(message);
}

/** A GraphQL error answer: `field(name)` is the message for that `extensions.field`. */
export class ApiError extends Error {
  constructor(errors) {
    super(errors.map((e) => e.message).join("; "));
    this.errors = errors;
    this.code = errors[0]?.extensions?.code ?? "ERROR";
  }
  byField() {
    const out = {};
    for (const e of this.errors) {
      const field = e.extensions?.field ?? "";
      out[field] = out[field] ? `${out[field]}; ${e.message}` : e.message;
    }
    return out;
  }
}

export async function gql(query, variables = {}) {
  let response;
  try {
    response = await fetch("/graphql", {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json",
        authorization: `Bearer ${session.token() ?? ""}`,
      },
      body: JSON.stringify({ query, variables }),
    });
  } catch {
    throw new ApiError([{ message: "Herald does not answer: check the server and try again." }]);
  }
  let body;
  try {
    body = await response.json();
  } catch {
    throw new ApiError([{ message: `Unexpected answer (HTTP ${response.status}).` }]);
  }
  if (body.errors?.length) {
    const error = new ApiError(body.errors);
    if (error.code === "UNAUTHENTICATED") refused("Your token is not valid any more: sign in again.");
    throw error;
  }
  return body.data;
}

function socket() {
  if (ws) return ws;
  const url = new URL("/graphql", location.href);
  url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  ws = createClient({
    url: url.toString(),
    connectionParams: () => ({ Authorization: `Bearer ${session.token() ?? ""}` }),
    retryAttempts: Infinity,
    shouldRetry: (event) => !(event && event.code === 4401),
    on: {
      closed: (event) => {
        if (event && event.code === 4401) refused("Your token was revoked or is not valid: sign in again.");
      },
    },
  });
  return ws;
}

/** Subscribe over graphql-transport-ws; returns a function that unsubscribes. */
export function subscribe(query, variables, { next, error = () => {}, complete = () => {} }) {
  return socket().subscribe(
    { query, variables },
    {
      next: (result) => (result.errors ? error(new ApiError(result.errors)) : next(result.data)),
      error: (e) => error(e instanceof Error ? e : new ApiError([{ message: "Live updates lost" }])),
      complete,
    },
  );
}

/** Download an export (a link cannot send the bearer header, so fetch it and save the blob). */
export async function download(path, filename) {
  const response = await fetch(path, { headers: { authorization: `Bearer ${session.token() ?? ""}` } });
  if (response.status === 401) refused("Your token is not valid any more: sign in again.");
  if (!response.ok) throw new ApiError([{ message: `Export failed (HTTP ${response.status}).` }]);
  const url = URL.createObjectURL(await response.blob());
  const a = Object.assign(document.createElement("a"), { href: url, download: filename });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** "ADMIN" or "VIEWER": `tokens` is admin only, so a viewer gets FORBIDDEN. */
export async function roleOfToken() {
  try {
    await gql("{ tokens(first: 1) { totalCount } }");
    return "ADMIN";
  } catch (e) {
    if (e instanceof ApiError && e.code === "FORBIDDEN") return "VIEWER";
    throw e;
  }
}
