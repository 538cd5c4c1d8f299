// The single-page demo at / (SPEC section 7): plain JavaScript over tokenkit.js.
//
// Everything the demo does goes through the client: it never handles a token
// itself. Open the console and try `tokenkitClient.fetch("/api/me/")`.

import { createClient } from "/static/django_tokenkit/tokenkit.js";

const client = createClient({ authUrl: "/api/auth/" });
window.tokenkitClient = client;

const $ = (selector) => document.querySelector(selector);
const api = (path, init) => client.fetch(path, init);
let renewals = 0;
let refreshes = 0;
let autoTimer = null;

// --- the event log --------------------------------------------------------------

function log(kind, text, event = {}) {
  const item = document.createElement("li");
  item.dataset.kind = kind;
  if (event.fromOtherTab) item.dataset.elsewhere = "true";
  const time = new Date().toTimeString().slice(0, 8);
  item.innerHTML = `<time></time> <span class="kind"></span> <span class="text"></span>`;
  item.querySelector("time").textContent = time;
  item.querySelector(".kind").textContent = kind;
  item.querySelector(".text").textContent = text;
  $("#log").prepend(item);
  while ($("#log").children.length > 200) $("#log").lastElementChild.remove();
}

const where = (event) => (event.fromOtherTab ? " (in another tab)" : "");

client.on("login", (event) => {
  const how = {
    password: "with a password",
    tab: "with the session of another open tab",
    cookie: "through the refresh cookie",
    storage: "from storage",
  }[event.reason] ?? "";
  log("login", `logged in ${how}${where(event)}`, event);
  render();
  // A password login loads its panels itself, and so does start-up.
  if (event.reason !== "password" && document.body.dataset.ready) afterLogin();
});
client.on("token", (event) => {
  if (event.reason === "renewed") {
    renewals += 1;
    log("renewed", `access token renewed by X-New-Token${where(event)}`, event);
  } else if (event.reason === "refreshed") {
    refreshes += 1;
    log("refreshed", `access token refreshed${where(event)}`, event);
  } else if (event.reason === "shared") {
    log("shared", "took the newer token another tab already had");
  }
  const countdown = $("#countdown");
  countdown.classList.remove("flash");
  void countdown.offsetWidth; // restart the animation
  countdown.classList.add("flash");
  render();
});
client.on("logout", (event) => {
  log("logout", `logged out${event.all ? " everywhere" : ""}${where(event)}`, event);
  render();
});
client.on("session-ended", (event) => {
  log("session-ended", `session ended by the server (${event.reason})${where(event)}`, event);
  render();
});

// --- rendering ------------------------------------------------------------------------

function render() {
  const loggedIn = client.isLoggedIn();
  document.body.dataset.state = loggedIn ? "logged-in" : "logged-out";
  $("#login-panel").hidden = loggedIn;
  $("#app").hidden = !loggedIn;
  $("#api-tokens-panel").hidden = !loggedIn;
  $("#mode").textContent = client.usesRefreshCookie()
    ? "refresh token in an HttpOnly cookie"
    : "refresh token in this page's memory";
  $("#counters").textContent = `${renewals} renewed, ${refreshes} refreshed in this tab`;
  if (!loggedIn) {
    stopAutoCall();
    forgetSecret();
    $("#api-tokens").replaceChildren();
  }
}

function tick() {
  const left = client.expiresIn();
  const lifetime = Number($("#countdown").dataset.lifetime || 0);
  if (left === null) {
    $("#countdown").textContent = "—";
    $("#bar").style.width = "0";
    return;
  }
  if (left > lifetime) $("#countdown").dataset.lifetime = String(left);
  $("#countdown").textContent = `${(left / 1000).toFixed(1)} s`;
  const full = Math.max(lifetime, left) || 1;
  $("#bar").style.width = `${Math.min(100, (100 * left) / full)}%`;
}

async function show(response, target) {
  const text = response.status === 204 ? "" : await response.text();
  $(target).textContent = `${response.status} ${text}`;
  $(target).dataset.status = String(response.status);
  return response;
}

// --- actions ------------------------------------------------------------------------------

async function callMe() {
  const response = await show(await api("/api/me/"), "#me-result");
  log("api", `GET /api/me/ → ${response.status}`);
}

function stopAutoCall() {
  clearInterval(autoTimer);
  autoTimer = null;
  $("#auto-call").textContent = "Keep calling every second";
  $("#auto-call").setAttribute("aria-pressed", "false");
}

async function loadNotes() {
  const response = await api("/api/notes/");
  const list = $("#notes");
  list.replaceChildren();
  if (!response.ok) return show(response, "#notes-result");
  for (const note of await response.json()) {
    const item = document.createElement("li");
    const title = document.createElement("strong");
    title.textContent = note.title;
    const body = document.createElement("span");
    body.textContent = ` ${note.body ?? ""} `;
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "link delete-note";
    remove.textContent = "delete";
    remove.addEventListener("click", async () => {
      await show(await api(`/api/notes/${note.id}/`, { method: "DELETE" }), "#notes-result");
      loadNotes();
    });
    item.append(title, body, remove);
    list.append(item);
  }
}

async function loadSessions() {
  const list = $("#sessions");
  let sessions;
  try {
    sessions = await client.sessions();
  } catch (error) {
    list.replaceChildren();
    log("api", `GET sessions/ failed: ${error.code}`);
    return;
  }
  list.replaceChildren();
  for (const session of sessions) {
    const item = document.createElement("li");
    item.dataset.sessionId = session.id;
    item.dataset.current = String(!!session.current);
    const agent = (session.user_agent || "unknown browser").slice(0, 60);
    const label = document.createElement("span");
    label.textContent = `${session.current ? "this session · " : ""}${agent} · ${session.ip ?? ""}`;
    const end = document.createElement("button");
    end.type = "button";
    end.className = "link end-session";
    end.textContent = "end this session";
    end.addEventListener("click", async () => {
      await client.endSession(session.id);
      log("api", `ended session ${session.id.slice(0, 8)}…`);
      if (client.isLoggedIn()) loadSessions();
    });
    item.append(label, " ", end);
    list.append(item);
  }
}

// --- the API-token panel ------------------------------------------------------------
//
// A new token's secret is in the answer to its creation only: the panel shows
// it once, and forgets it (removes it from the page) as soon as the list is
// reloaded, a token is revoked, or the user logs out. It is never logged.

const API_TOKENS = "/api/auth/api-tokens/";
const day = (iso) => new Date(iso).toLocaleString([], { dateStyle: "medium", timeStyle: "short" });

function forgetSecret() {
  $("#api-token-secret-value").textContent = "";
  $("#api-token-secret").hidden = true;
}

function apiTokenItem(token) {
  const item = document.createElement("li");
  item.dataset.apiTokenId = token.id;
  const name = document.createElement("strong");
  name.textContent = token.name;
  const hint = document.createElement("code");
  hint.className = "hint";
  hint.textContent = token.hint;
  const scopes = document.createElement("span");
  scopes.className = "scopes";
  scopes.textContent = token.scopes.length ? token.scopes.join(", ") : "all of your rights";
  const expiry = document.createElement("span");
  if (token.expires_at === null) {
    expiry.className = "badge never";
    expiry.textContent = "never expires";
  } else {
    expiry.className = "expires";
    expiry.textContent = `expires ${day(token.expires_at)}`;
  }
  const used = document.createElement("span");
  used.className = "muted last-used";
  used.textContent = token.last_used_at ? `last used ${day(token.last_used_at)}` : "never used";
  const revoke = document.createElement("button");
  revoke.type = "button";
  revoke.className = "link revoke-api-token";
  revoke.textContent = "revoke";
  revoke.addEventListener("click", async () => {
    const response = await api(`${API_TOKENS}${token.id}/`, { method: "DELETE" });
    log("api", `revoked API token ${token.name} (${token.hint}) → ${response.status}`);
    loadApiTokens();
  });
  item.append(name, " ", hint, " · ", scopes, " · ", expiry, " · ", used, " ", revoke);
  return item;
}

async function loadApiTokens({ keepSecret = false } = {}) {
  if (!keepSecret) forgetSecret();
  const response = await api(`${API_TOKENS}?page_size=100`);
  const list = $("#api-tokens");
  if (!response.ok) {
    list.replaceChildren();
    return show(response, "#api-token-error");
  }
  const page = await response.json();
  // Built first, swapped in at once: the list is never seen empty mid-reload.
  const items = page.results.map(apiTokenItem);
  if (!items.length) {
    const none = document.createElement("li");
    none.className = "muted";
    none.textContent = "No API tokens yet.";
    items.push(none);
  }
  list.replaceChildren(...items);
}

async function createApiToken(event) {
  event.preventDefault();
  $("#api-token-error").textContent = "";
  const expiry = $("#api-token-expiry").value;
  const scopes = [...document.querySelectorAll("input[name=api-token-scope]:checked")];
  const response = await api(API_TOKENS, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({
      name: $("#api-token-name").value,
      expires_in: expiry === "never" ? null : Number(expiry),
      scopes: scopes.map((box) => box.value),
    }),
  });
  if (response.status !== 201) return show(response, "#api-token-error");
  const created = await response.json();
  log("api", `created API token ${created.name} (${created.hint})`);
  $("#api-token-form").reset();
  $("#api-token-secret-value").textContent = created.token;
  $("#api-token-secret").hidden = false;
  $("#copy-api-token").textContent = "Copy";
  await loadApiTokens({ keepSecret: true });
}

// Each panel loads on its own: one that fails (a network error, an answer of
// an unexpected shape) is logged and leaves the others, and the page, working.
async function afterLogin() {
  const panels = [
    ["/api/me/", callMe],
    ["notes", loadNotes],
    ["sessions", loadSessions],
    ["API tokens", loadApiTokens],
  ];
  await Promise.all(
    panels.map(async ([name, load]) => {
      try {
        await load();
      } catch (error) {
        log("error", `loading ${name} failed: ${error}`);
        reportError(error); // to the console, as the uncaught error it was
      }
    }),
  );
}

$("#login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("#login-error").textContent = "";
  try {
    await client.login($("#username").value, $("#password").value);
    $("#password").value = "";
    await afterLogin();
  } catch (error) {
    $("#login-error").textContent = `${error.message} (${error.code})`;
  }
});
$("#call-me").addEventListener("click", callMe);
$("#auto-call").addEventListener("click", () => {
  if (autoTimer) return stopAutoCall();
  autoTimer = setInterval(callMe, 1000);
  $("#auto-call").textContent = "Stop calling";
  $("#auto-call").setAttribute("aria-pressed", "true");
});
$("#refresh-now").addEventListener("click", async () => {
  try {
    await client.refresh();
  } catch (error) {
    log("api", `refresh failed: ${error.code}`);
  }
});
$("#note-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const body = JSON.stringify({ title: $("#note-title").value, body: $("#note-body").value });
  const response = await api("/api/notes/", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body,
  });
  await show(response, "#notes-result");
  if (response.ok) {
    $("#note-title").value = "";
    $("#note-body").value = "";
  }
  loadNotes();
});
$("#reload-sessions").addEventListener("click", loadSessions);
$("#api-token-form").addEventListener("submit", createApiToken);
$("#reload-api-tokens").addEventListener("click", () => loadApiTokens());
$("#dismiss-api-token").addEventListener("click", forgetSecret);
$("#copy-api-token").addEventListener("click", async () => {
  try {
    await navigator.clipboard.writeText($("#api-token-secret-value").textContent);
    $("#copy-api-token").textContent = "Copied";
  } catch {
    $("#copy-api-token").textContent = "Select it and copy by hand";
  }
});
$("#logout").addEventListener("click", () => client.logout().catch((e) => log("api", e.message)));
$("#logout-all").addEventListener("click", () =>
  client.logout({ all: true }).catch((e) => log("api", e.message)),
);
$("#clear-log").addEventListener("click", () => $("#log").replaceChildren());

render();
setInterval(tick, 100);
client.ready
  .then(async () => {
    render();
    if (client.isLoggedIn()) await afterLogin();
  })
  .finally(() => {
    document.body.dataset.ready = "true";
  });
