// The shell: sign-in, the navigation and a hash router (#/, #/mailings/new, #/mailings/7,
// #/mailings/7/edit, #/clients, #/tokens). The role decides whether edit controls exist.
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { ApiError, roleOfToken, session } from "./api.js";
import { Field, Notice } from "./components.js";
import { html } from "./format.js";
import { Dashboard } from "./views/dashboard.js";
import { MailingPage } from "./views/mailing.js";
import { MailingForm } from "./views/mailing-form.js";
import { Clients } from "./views/clients.js";
import { Tokens } from "./views/tokens.js";

function useHash() {
  const [hash, setHash] = useState(location.hash || "#/");
  useEffect(() => {
    const changed = () => setHash(location.hash || "#/");
    addEventListener("hashchange", changed);
    return () => removeEventListener("hashchange", changed);
  }, []);
  return hash;
}

function route(hash, role) {
  const path = hash.replace(/^#/, "") || "/";
  let m;
  if (path === "/") return html`<${Dashboard} role=${role} />`;
  if (path === "/mailings/new" && role === "ADMIN") return html`<${MailingForm} />`;
  if ((m = path.match(/^\/mailings\/(\d+)\/edit$/)) && role === "ADMIN") return html`<${MailingForm} id=${m[1]} />`;
  if ((m = path.match(/^\/mailings\/(\d+)$/))) return html`<${MailingPage} id=${m[1]} role=${role} />`;
  if (path === "/clients") return html`<${Clients} role=${role} />`;
  if (path === "/tokens" && role === "ADMIN") return html`<${Tokens} />`;
  return html`<main id="main"><h1>Not found</h1><p><a href="#/">Back to the dashboard</a></p></main>`;
}

function SignIn({ message, onSignedIn }) {
  const [token, setToken] = useState("");
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  async function submit(event) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    session.save(token.trim());
    try {
      const role = await roleOfToken();
      session.accepted();
      onSignedIn(role);
    } catch (e) {
      session.clear();
      setError(e instanceof ApiError && e.code === "UNAUTHENTICATED" ? "That token is not valid." : e.message);
    } finally {
      setBusy(false);
    }
  }
  return html`<main id="main" class="signin">
    <h1>Herald</h1>
    <p>Sign in with an API token (admin or viewer). It is kept in this tab only and forgotten when you sign out or close it.</p>
    ${message && html`<${Notice} message=${message} />`}
    <form onSubmit=${submit}>
      <${Field} id="token" label="API token" error=${error}>
        ${(a) => html`<input ...${a} type="password" autocomplete="off" required value=${token} onInput=${(e) => setToken(e.target.value)} />`}
      <//>
      <button type="submit" disabled=${busy}>Sign in</button>
    </form>
  </main>`;
}

function Nav({ role, hash, onSignOut }) {
  const link = (href, text) =>
    html`<a href=${href} aria-current=${hash === href || (href !== "#/" && hash.startsWith(href)) ? "page" : undefined}>${text}</a>`;
  return html`<header class="top">
    <a class="brand" href="#/">Herald</a>
    <nav aria-label="Main">
      ${link("#/", "Dashboard")} ${role === "ADMIN" && link("#/mailings/new", "New mailing")}
      ${link("#/clients", "Clients")} ${role === "ADMIN" && link("#/tokens", "Tokens")}
    </nav>
    <span class="role" title="What this token may do">${role === "ADMIN" ? "Admin" : "Viewer (read only)"}</span>
    <button type="button" class="secondary" onClick=${onSignOut}>Sign out</button>
  </header>`;
}

function App() {
  const [role, setRole] = useState(null);
  const [message, setMessage] = useState(null);
  const [checking, setChecking] = useState(Boolean(session.token()));
  const hash = useHash();
  useEffect(() => {
    session.onSignedOut((text) => {
      setRole(null);
      setMessage(text);
    });
    if (!session.token()) return;
    roleOfToken()
      .then((r) => (session.accepted(), setRole(r)))
      .catch((e) => {
        session.clear(); // refused, or no answer: sign in again
        setMessage(e.code === "UNAUTHENTICATED" ? "Your token is not valid any more: sign in again." : e.message);
      })
      .finally(() => setChecking(false));
  }, []);
  if (checking) return html`<main id="main"><p>Checking your token…</p></main>`;
  if (!role) return html`<${SignIn} message=${message} onSignedIn=${(r) => (setMessage(null), setRole(r))} />`;
  const signOut = () => {
    session.clear();
    setRole(null);
    setMessage("Signed out.");
  };
  return html`<${Nav} role=${role} hash=${hash} onSignOut=${signOut} />${route(hash, role)}`;
}

render(html`<${App} />`, document.getElementById("app"));
