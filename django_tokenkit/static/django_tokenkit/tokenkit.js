// django-tokenkit browser client: one dependency-free ES module (SPEC section 6).
//
//   import { createClient } from "/static/django_tokenkit/tokenkit.js";
//   const tokenkit = createClient({ authUrl: "/api/auth/" });
//   await tokenkit.login("demo", "demo-password");
//   const response = await tokenkit.fetch("/api/me/");
//
// Why it is built the way it is (docs/single-page-apps.rst has the long form):
// - Expiry is timed on this browser's own clock from `expires_in`, never from
//   the token's `exp`: a clock an hour off must not storm the refresh endpoint.
// - One refresh in flight per tab, and one at a time across tabs (Web Locks,
//   bounded wait, then steal, so an orphaned lock never hangs a tab). Inside the
//   lock the shared state is read again and the other tabs are asked for a
//   newer token before anything is sent: a tab that waited usually finds the
//   work done. Without Web Locks the server's grace period keeps it safe.
// - Tabs share one session over BroadcastChannel: tokens, logins, logouts.
// - The refresh request is a plain fetch, never routed through the client's
//   own retry logic (the deadlock of interceptor-based clients).
// - `session-ended` fires once per session, never in a loop.

/**
 * @typedef {"memory" | "local" | Storage} StorageOption
 *   "memory" (default): tokens live in this tab's memory only; other tabs
 *   share them over BroadcastChannel. "local": window.localStorage (opt-in:
 *   any script on the origin can read it). Or any object with the Storage
 *   interface (getItem, setItem, removeItem).
 *
 * @typedef {object} ClientOptions
 * @property {string} authUrl where `django_tokenkit.urls` is mounted, e.g. "/api/auth/"
 * @property {StorageOption} [storage]
 * @property {boolean | "auto"} [refreshCookie] true: the server keeps the refresh
 *   token in its HttpOnly cookie; false: it comes in the body; "auto" (default):
 *   learnt from the login response (no `refresh` field means cookie mode).
 * @property {string[]} [tokenOrigins] origins the access token is sent to
 *   (default: the origin of authUrl only).
 * @property {string} [csrfCookieName] default "csrftoken"
 * @property {string} [csrfHeaderName] default "X-CSRFToken"
 * @property {number} [lockTimeout] ms to wait for another tab's refresh lock before stealing it (5000)
 * @property {number} [peerTimeout] ms to wait for an answer from another tab (150)
 * @property {number} [refreshTimeout] ms before a refresh request is abandoned (10000)
 * @property {number} [refreshAttempts] tries of a refresh on network errors, 5xx and 429 (4)
 * @property {typeof fetch} [fetch] the fetch to use (default: globalThis.fetch)
 * @property {() => number} [now] the clock in ms (default: Date.now)
 * @property {LockManager | null} [locks] default navigator.locks when present
 * @property {typeof BroadcastChannel | null} [BroadcastChannel] default globalThis.BroadcastChannel
 * @property {string} [baseUrl] resolves relative URLs outside a page (default location.href)
 *
 * @typedef {object} TokenState
 * @property {string} access
 * @property {number} expiresAt when the access token expires, on this client's clock (ms)
 * @property {number} lifetime the access token's lifetime when issued (ms)
 * @property {string | null} refresh null in cookie mode
 * @property {boolean} cookie whether the refresh token is in the server's cookie
 * @property {string | null} sid the session id (the token's `sid` claim)
 *
 * @typedef {"login" | "token" | "logout" | "session-ended"} EventName
 *
 * @typedef {object} TokenkitEvent
 * @property {EventName} type
 * @property {boolean} fromOtherTab the change was made in another tab
 * @property {string} [reason] token: "refreshed" | "renewed" | "shared";
 *   login: "password" | "tab" | "cookie" | "storage";
 *   session-ended: the server's code (token_revoked, token_reused, token_expired, ...)
 * @property {number} [expiresAt] token and login: the new expiry on this tab's clock
 * @property {boolean} [all] logout: every session of the user ended
 */

export const VERSION = "0.1.0";

/** Errors the client raises itself; `code` is the server's when it sent one. */
export class TokenkitError extends Error {
  /** @param {string} message @param {string} code @param {number} [status] */
  constructor(message, code, status = 0) {
    super(message);
    this.name = "TokenkitError";
    this.code = code;
    this.status = status;
  }
}

/** Codes of a 401 on an API call that mean the session is over (log in again). */
export const SESSION_ENDED_CODES = Object.freeze(["token_revoked", "token_reused"]);

// --- pure helpers (exported for the unit tests in tests/js/) --------------------

/** The claims of a JWT, unverified, or null. Only `sid` is ever used, never `exp`. */
export function decodeClaims(token) {
  try {
    const part = String(token).split(".")[1];
    const base64 = part.replace(/-/g, "+").replace(/_/g, "/");
    const padded = base64 + "=".repeat((4 - (base64.length % 4)) % 4);
    const bytes = Uint8Array.from(atob(padded), (char) => char.charCodeAt(0));
    const claims = JSON.parse(new TextDecoder().decode(bytes));
    return claims && typeof claims === "object" ? claims : null;
  } catch {
    return null;
  }
}

/**
 * The state for a login or refresh response body, timed on `now`.
 * @returns {TokenState}
 */
export function stateFromPair(pair, now) {
  const lifetime = Math.max(0, Number(pair.expires_in) || 0) * 1000;
  const hasRefresh = typeof pair.refresh === "string" && pair.refresh !== "";
  return {
    access: pair.access,
    expiresAt: now + lifetime,
    lifetime,
    refresh: hasRefresh ? pair.refresh : null,
    cookie: !hasRefresh,
    sid: decodeClaims(pair.access)?.sid ?? null,
  };
}

/** How long before expiry a token is renewed: a tenth of its lifetime, at most 10 s. */
export function refreshMargin(lifetime) {
  return Math.min(10_000, Math.max(0, lifetime) / 10);
}

/** Whether `state` must be refreshed before it is used at `now`. */
export function needsRefresh(state, now) {
  return !state || state.expiresAt - now <= refreshMargin(state.lifetime);
}

/**
 * Whether a renewed token (X-New-Token, or one from another tab) replaces `current`:
 * only one of the same session that lives longer, so a late response can never
 * bring back an older token.
 */
export function extendsToken(current, candidate) {
  if (!candidate || !candidate.access) return false;
  if (!current) return true;
  if (candidate.access === current.access) return false;
  if (current.sid && candidate.sid && current.sid !== candidate.sid) return false;
  return candidate.expiresAt > current.expiresAt;
}

/**
 * The state of an `X-New-Token` response for `current`, or null.
 * @param {Headers} headers
 */
export function renewedState(headers, current, now) {
  const access = headers.get("X-New-Token");
  const seconds = Number(headers.get("X-New-Token-Expires-In"));
  if (!current || !access || !Number.isFinite(seconds) || seconds <= 0) return null;
  const candidate = {
    ...current,
    access,
    expiresAt: now + seconds * 1000,
    lifetime: Math.max(current.lifetime, seconds * 1000),
    sid: decodeClaims(access)?.sid ?? current.sid,
  };
  return extendsToken(current, candidate) ? candidate : null;
}

/** Seconds of a Retry-After header (delta or HTTP date), or null. */
export function parseRetryAfter(value, now) {
  if (value == null || value === "") return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds);
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, (date - now) / 1000);
}

/**
 * Milliseconds to wait before retry number `attempt` (0-based) of a refresh:
 * exponential from 250 ms with jitter, capped at 8 s, or the server's
 * Retry-After (capped at 30 s) when it sent one.
 */
export function backoffDelay(attempt, retryAfterSeconds = null, random = Math.random) {
  if (retryAfterSeconds != null) return Math.min(30_000, retryAfterSeconds * 1000);
  const ceiling = Math.min(8_000, 250 * 2 ** attempt);
  return ceiling / 2 + random() * (ceiling / 2);
}

/** Whether a refresh answered with `status` is worth trying again. */
export function isTransient(status) {
  return status === 0 || status === 429 || status >= 500;
}

/** A cookie's value from a `document.cookie` string, or null. */
export function readCookie(cookieString, name) {
  for (const part of String(cookieString || "").split(";")) {
    const [key, ...rest] = part.trim().split("=");
    if (key === name) return decodeURIComponent(rest.join("="));
  }
  return null;
}

/** A state as sent to another tab: times relative, since tabs' clocks may differ. */
export function toWire(state, now) {
  return state && { ...state, expiresAt: undefined, remaining: state.expiresAt - now };
}

/** A state received from another tab, timed on this tab's clock. */
export function fromWire(wire, now) {
  if (!wire || typeof wire.access !== "string" || !Number.isFinite(wire.remaining)) return null;
  const { remaining, ...rest } = wire;
  return { ...rest, expiresAt: now + remaining };
}

// --- the client ----------------------------------------------------------------------

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Create a client for the tokenkit API mounted at `options.authUrl`.
 * @param {ClientOptions} options
 */
export function createClient(options) {
  if (!options || !options.authUrl) throw new TypeError("createClient needs {authUrl}");
  const base = options.baseUrl ?? globalThis.location?.href;
  const authUrl = new URL(options.authUrl, base).href.replace(/\/?$/, "/");
  const authOrigin = new URL(authUrl).origin;
  const tokenOrigins = new Set(options.tokenOrigins ?? [authOrigin]);
  const now = options.now ?? (() => Date.now());
  const rawFetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  const locks = options.locks !== undefined ? options.locks : globalThis.navigator?.locks ?? null;
  const Channel =
    options.BroadcastChannel !== undefined ? options.BroadcastChannel : globalThis.BroadcastChannel;
  const csrfCookieName = options.csrfCookieName ?? "csrftoken";
  const csrfHeaderName = options.csrfHeaderName ?? "X-CSRFToken";
  const lockTimeout = options.lockTimeout ?? 5_000;
  const peerTimeout = options.peerTimeout ?? 150;
  const refreshTimeout = options.refreshTimeout ?? 10_000;
  const refreshAttempts = options.refreshAttempts ?? 4;
  const storage = options.storage === "local" ? globalThis.localStorage : options.storage;
  const storageKey = `tokenkit:${authUrl}`;
  // Not a secret: only whether this app's server uses the refresh cookie, so a
  // new tab knows whether a cookie refresh is worth trying.
  const cookieHintKey = `tokenkit:cookie-mode:${authUrl}`;
  const tabId = Math.random().toString(36).slice(2) + now().toString(36);

  /** @type {TokenState | null} */
  let memory = null;
  /** @type {Promise<TokenState | null> | null} */
  let inflight = null;
  const endedSids = new Set();
  const listeners = new Map();
  const peerWaiters = new Set();
  let closed = false;

  // --- state ---------------------------------------------------------------------

  /** @returns {TokenState | null} */
  function read() {
    if (storage && storage !== "memory" && typeof storage.getItem === "function") {
      try {
        const raw = storage.getItem(storageKey);
        return raw ? JSON.parse(raw) : null;
      } catch {
        return null;
      }
    }
    return memory;
  }

  function write(state) {
    memory = state;
    if (storage && storage !== "memory" && typeof storage.setItem === "function") {
      try {
        if (state) storage.setItem(storageKey, JSON.stringify(state));
        else storage.removeItem(storageKey);
      } catch {
        // Storage full or blocked: memory still holds the state for this tab.
      }
    }
  }

  function cookieMode() {
    if (options.refreshCookie === true || options.refreshCookie === false) {
      return options.refreshCookie;
    }
    const state = read();
    if (state) return state.cookie;
    try {
      return globalThis.localStorage?.getItem(cookieHintKey) === "1";
    } catch {
      return false;
    }
  }

  function rememberMode(cookie) {
    try {
      if (cookie) globalThis.localStorage?.setItem(cookieHintKey, "1");
      else globalThis.localStorage?.removeItem(cookieHintKey);
    } catch {
      // No localStorage (a worker, a locked-down browser): a new tab asks the others.
    }
  }

  // --- events and tabs -------------------------------------------------------------

  function emit(type, detail = {}) {
    const event = { type, fromOtherTab: false, ...detail };
    for (const listener of [...(listeners.get(type) ?? [])]) {
      try {
        listener(event);
      } catch (error) {
        setTimeout(() => {
          throw error;
        });
      }
    }
  }

  const channel = Channel ? new Channel(`tokenkit:${authUrl}`) : null;

  function post(message) {
    if (channel && !closed) channel.postMessage({ v: 1, from: tabId, ...message });
  }

  if (channel) {
    channel.onmessage = (event) => {
      const message = event.data;
      if (!message || message.v !== 1 || message.from === tabId || closed) return;
      onPeerMessage(message);
    };
  }

  function onPeerMessage(message) {
    const current = read();
    if (message.type === "ask") {
      if (current) post({ type: "state", to: message.from, id: message.id, state: toWire(current, now()) });
      return;
    }
    if (message.type === "state") {
      const state = fromWire(message.state, now());
      for (const waiter of peerWaiters) waiter(state, message);
      return;
    }
    if (message.type === "login") {
      const state = fromWire(message.state, now());
      if (!state || (current && current.access === state.access)) return;
      if (state.sid) endedSids.delete(state.sid);
      write(state);
      rememberMode(state.cookie);
      emit("login", { reason: "tab", fromOtherTab: true, expiresAt: state.expiresAt });
      emit("token", { reason: "login", fromOtherTab: true, expiresAt: state.expiresAt });
      return;
    }
    if (message.type === "token") {
      const state = fromWire(message.state, now());
      for (const waiter of peerWaiters) waiter(state, message);
      if (!state || (state.sid && endedSids.has(state.sid))) return;
      if (current && !extendsToken(current, state)) return;
      write(state);
      if (!current) emit("login", { reason: "tab", fromOtherTab: true, expiresAt: state.expiresAt });
      emit("token", { reason: message.reason, fromOtherTab: true, expiresAt: state.expiresAt });
      return;
    }
    if (message.type === "logout" || message.type === "ended") {
      if (message.sid) endedSids.add(message.sid);
      if (!current || (message.sid && current.sid && current.sid !== message.sid && !message.all)) {
        return;
      }
      write(null);
      if (message.type === "logout") emit("logout", { all: !!message.all, fromOtherTab: true });
      else emit("session-ended", { reason: message.reason, fromOtherTab: true });
    }
  }

  /**
   * Ask the other tabs for their state; resolve with the first that `accept`s,
   * or null after `timeout` ms. Tokens broadcast meanwhile count as answers.
   */
  function askPeers(accept, timeout = peerTimeout) {
    if (!channel) return Promise.resolve(null);
    const id = Math.random().toString(36).slice(2);
    return new Promise((resolve) => {
      const waiter = (state, message) => {
        if (message.type === "state" && (message.to !== tabId || message.id !== id)) return;
        if (state && accept(state)) finish(state);
      };
      const timer = setTimeout(() => finish(null), timeout);
      function finish(state) {
        clearTimeout(timer);
        peerWaiters.delete(waiter);
        resolve(state);
      }
      peerWaiters.add(waiter);
      post({ type: "ask", id });
    });
  }

  // --- HTTP ------------------------------------------------------------------------------

  function csrfHeaders() {
    const token = readCookie(globalThis.document?.cookie, csrfCookieName);
    return token ? { [csrfHeaderName]: token } : {};
  }

  async function errorBody(response) {
    try {
      const body = await response.clone().json();
      return body && typeof body === "object" ? body : {};
    } catch {
      return {};
    }
  }

  /** POST JSON to the auth API (login, refresh, logout): never retried by the client. */
  function postAuth(path, body, headers = {}, signal) {
    return rawFetch(authUrl + path, {
      method: "POST",
      credentials: "include",
      headers: { "Content-Type": "application/json", Accept: "application/json", ...headers },
      body: JSON.stringify(body),
      signal,
    });
  }

  /**
   * One refresh request, with backoff on network errors, 5xx and 429. Resolves
   * with the new state; rejects with a TokenkitError whose `ended` is true when
   * the server refused the session for good.
   */
  async function requestRefresh(state) {
    const cookie = state ? state.cookie : cookieMode();
    const body = !cookie && state?.refresh ? { refresh: state.refresh } : {};
    let lastError = null;
    for (let attempt = 0; attempt < refreshAttempts; attempt += 1) {
      let response;
      try {
        const signal = globalThis.AbortSignal?.timeout?.(refreshTimeout);
        response = await postAuth("token/refresh/", body, cookie ? csrfHeaders() : {}, signal);
      } catch (error) {
        lastError = new TokenkitError(`refresh failed: ${error?.message ?? error}`, "network_error");
        if (attempt + 1 < refreshAttempts) await sleep(backoffDelay(attempt));
        continue;
      }
      if (response.ok) return stateFromPair(await response.json(), now());
      const { code, detail } = await errorBody(response);
      if (!isTransient(response.status)) {
        const error = new TokenkitError(detail || "refresh refused", code || "refresh_refused", response.status);
        error.ended = true;
        throw error;
      }
      lastError = new TokenkitError(detail || `refresh answered ${response.status}`, code || "unavailable", response.status);
      if (attempt + 1 < refreshAttempts) {
        await sleep(backoffDelay(attempt, parseRetryAfter(response.headers.get("Retry-After"), now())));
      }
    }
    throw lastError;
  }

  /** Run `task` holding the cross-tab refresh lock; `task(waited)` learns if another tab held it. */
  async function withRefreshLock(task) {
    if (!locks) return task(false);
    const name = `tokenkit-refresh:${authUrl}`;
    const wrapped = (waited) => async () => {
      try {
        return { value: await task(waited) };
      } catch (error) {
        return { error };
      }
    };
    let outcome = await locks.request(name, { ifAvailable: true }, async (lock) =>
      lock ? wrapped(false)() : null,
    );
    if (!outcome) {
      try {
        const signal = globalThis.AbortSignal?.timeout?.(lockTimeout);
        outcome = await locks.request(name, { signal }, wrapped(true));
      } catch (error) {
        if (error?.name !== "TimeoutError" && error?.name !== "AbortError") throw error;
        // The holder is stuck (a frozen tab, a dev-server reload): take the lock.
        outcome = await locks.request(name, { steal: true }, wrapped(true));
      }
    }
    if ("error" in outcome) throw outcome.error;
    return outcome.value;
  }

  /**
   * Make sure the token that replaced `stale` is fresh: reuse one another tab
   * already got, else refresh. One per tab at a time; one across tabs.
   */
  function refresh(stale = read()?.access ?? null) {
    if (inflight) return inflight;
    inflight = (async () => {
      const isFresh = (state) => state && state.access !== stale && !needsRefresh(state, now());
      return withRefreshLock(async () => {
        // Read the shared state again: the tab that held the lock may have refreshed.
        let current = read();
        if (isFresh(current)) return current;
        if (stale !== null && current === null) {
          throw new TokenkitError("logged out meanwhile", "not_authenticated");
        }
        // Another tab may have refreshed a moment ago, its broadcast still on its way.
        const peer = await askPeers(
          (state) => isFresh(state) && !(state.sid && endedSids.has(state.sid)),
        );
        current = read();
        if (peer && (!current || extendsToken(current, peer))) {
          write(peer);
          if (!current) emit("login", { reason: "tab", expiresAt: peer.expiresAt });
          emit("token", { reason: "shared", expiresAt: peer.expiresAt });
          return peer;
        }
        if (isFresh(current)) return current;
        if (stale !== null && current === null) {
          throw new TokenkitError("logged out meanwhile", "not_authenticated");
        }
        let next;
        try {
          next = await requestRefresh(current);
        } catch (error) {
          if (error.ended && current) endSession(error.code, current.access);
          throw error;
        }
        const wasLoggedOut = read() === null;
        if (wasLoggedOut && stale !== null) {
          throw new TokenkitError("logged out meanwhile", "not_authenticated");
        }
        write(next);
        rememberMode(next.cookie);
        if (next.sid) endedSids.delete(next.sid);
        post({ type: "token", reason: "refreshed", state: toWire(next, now()) });
        if (wasLoggedOut) emit("login", { reason: "cookie", expiresAt: next.expiresAt });
        emit("token", { reason: "refreshed", expiresAt: next.expiresAt });
        return next;
      });
    })().finally(() => {
      inflight = null;
    });
    return inflight;
  }

  /** Forget the session once: `session-ended` here and in every other tab, never twice. */
  function endSession(code, access) {
    const current = read();
    if (!current || (access && current.access !== access && current.sid !== decodeClaims(access)?.sid)) {
      return;
    }
    if (current.sid) endedSids.add(current.sid);
    write(null);
    post({ type: "ended", reason: code, sid: current.sid });
    emit("session-ended", { reason: code });
  }

  function adoptRenewal(response, sentAccess) {
    // Taken even when our token changed meanwhile, as long as it extends it
    // (same session, later expiry): never a step back.
    const current = read();
    if (!current) return;
    const renewed = renewedState(response.headers, current, now());
    if (!renewed || (renewed.sid && endedSids.has(renewed.sid))) return;
    write(renewed);
    post({ type: "token", reason: "renewed", state: toWire(renewed, now()) });
    emit("token", { reason: "renewed", expiresAt: renewed.expiresAt });
  }

  function wantsToken(url) {
    try {
      return tokenOrigins.has(new URL(url, base).origin);
    } catch {
      return false;
    }
  }

  /**
   * `fetch` with the access token attached (for tokenOrigins only): refreshes
   * first when the token is about to expire, adopts X-New-Token, retries once
   * after 401 token_expired.
   * @param {RequestInfo | URL} input @param {RequestInit} [init]
   */
  async function clientFetch(input, init = {}) {
    await ready;
    const isRequest = typeof Request !== "undefined" && input instanceof Request;
    const url = isRequest ? input.url : String(input);
    if (!wantsToken(url)) return rawFetch(input, init);
    const send = (access) => {
      const request = isRequest ? input.clone() : input;
      const headers = new Headers(init.headers ?? (isRequest ? input.headers : undefined));
      if (access) headers.set("Authorization", `Bearer ${access}`);
      return rawFetch(request, { ...init, headers });
    };
    let state = read();
    if (state && needsRefresh(state, now())) {
      state = await refresh(state.access).catch(() => read());
    }
    const sent = state?.access ?? null;
    let response = await send(sent);
    if (sent) adoptRenewal(response, sent);
    if (response.status !== 401 || !sent) return response;
    const { code } = await errorBody(response);
    if (code === "token_expired") {
      const current = read();
      let next = null;
      if (current && current.access !== sent && !needsRefresh(current, now())) {
        next = current; // another tab (or request) already renewed: just resend
      } else {
        next = await refresh(sent).catch(() => null);
      }
      if (!next) return response;
      response = await send(next.access);
      adoptRenewal(response, next.access);
      if (response.status === 401) {
        const retried = await errorBody(response);
        if (SESSION_ENDED_CODES.includes(retried.code)) endSession(retried.code, next.access);
      }
      return response;
    }
    if (SESSION_ENDED_CODES.includes(code)) endSession(code, sent);
    return response;
  }

  // --- the public methods ---------------------------------------------------------

  async function login(username, password) {
    await ready;
    const response = await postAuth("token/", { username, password }, csrfHeaders());
    if (!response.ok) {
      const { code, detail } = await errorBody(response);
      throw new TokenkitError(detail || "login failed", code || "login_failed", response.status);
    }
    const state = stateFromPair(await response.json(), now());
    write(state);
    rememberMode(state.cookie);
    if (state.sid) endedSids.delete(state.sid);
    post({ type: "login", state: toWire(state, now()) });
    emit("login", { reason: "password", expiresAt: state.expiresAt });
    emit("token", { reason: "login", expiresAt: state.expiresAt });
    return state;
  }

  /**
   * End this session (or, with `{all: true}`, every session of the user) on
   * the server, then here and in every tab. Local state is cleared even when
   * the server cannot be reached; the error is then rethrown.
   */
  async function logout({ all = false } = {}) {
    await ready;
    let state = read();
    if (all && state && needsRefresh(state, now())) {
      state = await refresh(state.access).catch(() => read());
    }
    let failure = null;
    if (state) {
      const body = all ? { all: true } : state.refresh ? { refresh: state.refresh } : {};
      const headers = { Authorization: `Bearer ${state.access}`, ...(state.cookie ? csrfHeaders() : {}) };
      try {
        const response = await postAuth("logout/", body, headers);
        if (!response.ok && response.status !== 401) {
          const { code, detail } = await errorBody(response);
          failure = new TokenkitError(detail || "logout failed", code || "logout_failed", response.status);
        }
      } catch (error) {
        failure = error;
      }
      if (state.sid) endedSids.add(state.sid);
    }
    write(null);
    post({ type: "logout", all, sid: state?.sid ?? null });
    emit("logout", { all });
    if (failure) throw failure;
  }

  /** The user's active sessions (GET sessions/). */
  async function sessions() {
    const response = await clientFetch(authUrl + "sessions/");
    if (!response.ok) {
      const { code, detail } = await errorBody(response);
      throw new TokenkitError(detail || "sessions failed", code || "sessions_failed", response.status);
    }
    return response.json();
  }

  /** End one session of the user (DELETE sessions/<id>/). */
  async function endSessionById(id) {
    const response = await clientFetch(`${authUrl}sessions/${encodeURIComponent(id)}/`, { method: "DELETE" });
    if (!response.ok && response.status !== 404) {
      const { code, detail } = await errorBody(response);
      throw new TokenkitError(detail || "ending the session failed", code || "failed", response.status);
    }
    const current = read();
    if (current && current.sid === id) endSession("token_revoked", current.access);
  }

  // --- start-up: this tab's token from storage, another tab, or the cookie -----

  async function start() {
    await Promise.resolve(); // let the caller attach listeners first
    if (read()) {
      emit("login", { reason: "storage", expiresAt: read().expiresAt });
      return;
    }
    const peer = await askPeers((state) => !(state.sid && endedSids.has(state.sid)));
    if (peer) {
      write(peer);
      emit("login", { reason: "tab", expiresAt: peer.expiresAt });
      emit("token", { reason: "shared", expiresAt: peer.expiresAt });
      return;
    }
    if (cookieMode()) {
      try {
        await refresh(null);
      } catch {
        rememberMode(false); // no live cookie session: stay logged out, quietly
      }
    }
  }

  const ready = start().catch(() => undefined);

  return {
    ready,
    login,
    logout,
    fetch: clientFetch,
    sessions,
    endSession: endSessionById,
    /** Make sure the access token is fresh, refreshing when needed. */
    refresh: () => refresh(read()?.access ?? null),
    /** The current access token, or null (refreshed first when about to expire). */
    async accessToken() {
      await ready;
      const state = read();
      if (state && needsRefresh(state, now())) {
        return (await refresh(state.access).catch(() => read()))?.access ?? null;
      }
      return state?.access ?? null;
    },
    /** Milliseconds left of the access token on this tab's clock, or null. */
    expiresIn() {
      const state = read();
      return state ? Math.max(0, state.expiresAt - now()) : null;
    },
    isLoggedIn: () => read() !== null,
    /** Whether the refresh token is in the server's HttpOnly cookie. */
    usesRefreshCookie: () => cookieMode(),
    /** Listen to "login", "token", "logout" or "session-ended"; returns an unsubscribe function. */
    on(type, listener) {
      if (!listeners.has(type)) listeners.set(type, new Set());
      listeners.get(type).add(listener);
      return () => listeners.get(type).delete(listener);
    },
    /** Stop listening to other tabs (tests, hot reload). */
    close() {
      closed = true;
      channel?.close();
    },
  };
}
