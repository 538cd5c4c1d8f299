// Unit tests of django_tokenkit/static/django_tokenkit/tokenkit.js (node --test).
//
// The pure helpers are tested directly. The client's decisions (when to
// refresh, when to retry, what to adopt, what to tell other tabs) are tested
// against a small in-process stand-in for the server, passed in through the
// client's `fetch` option; what the real server and a real browser do
// together is tested in tests/test_browser.py.

import assert from "node:assert/strict";
import { test } from "node:test";

import {
  backoffDelay,
  createClient,
  decodeClaims,
  extendsToken,
  fromWire,
  isTransient,
  needsRefresh,
  parseRetryAfter,
  readCookie,
  refreshMargin,
  renewedState,
  stateFromPair,
  toWire,
} from "../../django_tokenkit/static/django_tokenkit/tokenkit.js";

const ORIGIN = "https://app.example";
const AUTH = `${ORIGIN}/api/auth/`;

function jwt(claims) {
  const encode = (value) => Buffer.from(JSON.stringify(value)).toString("base64url");
  return `${encode({ alg: "HS256" })}.${encode(claims)}.signature`;
}

/** A stand-in for the tokenkit API: rotation, a clock, and counters. */
class FakeServer {
  constructor({ lifetime = 60, cookie = false } = {}) {
    this.lifetime = lifetime;
    this.cookie = cookie;
    this.serial = 0;
    this.sid = "s1";
    this.valid = new Set();
    this.refreshToken = null;
    this.refreshCalls = [];
    this.apiCalls = [];
    this.refreshAnswers = []; // queued statuses for the next refreshes
    this.apiHook = null;
    this.fetch = this.fetch.bind(this);
  }

  pair() {
    this.serial += 1;
    const access = jwt({ sid: this.sid, n: this.serial, exp: 1 }); // exp in 1970: never read
    this.valid.add(access);
    this.refreshToken = `refresh-${this.serial}`;
    const body = { access, token_type: "Bearer", expires_in: this.lifetime, refresh_expires_in: 600 };
    if (!this.cookie) body.refresh = this.refreshToken;
    return body;
  }

  json(status, body, headers = {}) {
    return new Response(body === null ? null : JSON.stringify(body), {
      status,
      headers: { "Content-Type": "application/json", ...headers },
    });
  }

  async fetch(input, init = {}) {
    const url = String(input instanceof Request ? input.url : input);
    const headers = new Headers(init.headers);
    const body = init.body ? JSON.parse(init.body) : {};
    if (url === `${AUTH}token/`) return this.json(200, this.pair());
    if (url === `${AUTH}token/refresh/`) {
      this.refreshCalls.push({ body, headers, credentials: init.credentials });
      const queued = this.refreshAnswers.shift();
      if (queued) return this.json(queued.status, { code: queued.code ?? "x" }, queued.headers);
      return this.json(200, this.pair());
    }
    if (url === `${AUTH}logout/`) return this.json(204, null);
    this.apiCalls.push({ url, authorization: headers.get("Authorization") });
    if (this.apiHook) {
      const answer = await this.apiHook(url, headers);
      if (answer) return answer;
    }
    const token = (headers.get("Authorization") ?? "").replace("Bearer ", "");
    if (!this.valid.has(token)) return this.json(401, { code: "token_expired" });
    return this.json(200, { ok: true });
  }
}

class Clock {
  constructor(start = 1_700_000_000_000) {
    this.time = start;
    this.now = () => this.time;
  }
}

function client(server, clock, extra = {}) {
  return createClient({
    authUrl: AUTH,
    baseUrl: ORIGIN,
    fetch: server.fetch,
    now: clock.now,
    locks: null,
    BroadcastChannel: null,
    peerTimeout: 20,
    ...extra,
  });
}

function record(tokenkit) {
  const events = [];
  for (const type of ["login", "token", "logout", "session-ended"]) {
    tokenkit.on(type, (event) => events.push(`${type}:${event.reason ?? ""}`));
  }
  return events;
}

const until = async (predicate, timeout = 2000) => {
  const end = Date.now() + timeout;
  while (!predicate()) {
    if (Date.now() > end) throw new Error("condition not reached");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
};

// --- pure helpers ---------------------------------------------------------------------

test("decodeClaims_of_jwt_returns_claims_and_of_garbage_null", () => {
  assert.deepEqual(decodeClaims(jwt({ sid: "abc" })), { sid: "abc" });
  assert.equal(decodeClaims("not a token"), null);
  assert.equal(decodeClaims(undefined), null);
});

test("stateFromPair_times_expiry_on_local_clock_not_exp_claim", () => {
  const access = jwt({ sid: "s", exp: 1 }); // the server's exp is long past
  const state = stateFromPair({ access, refresh: "r", expires_in: 300 }, 1000);

  assert.equal(state.expiresAt, 301_000);
  assert.equal(state.sid, "s");
  assert.equal(state.cookie, false);
  assert.equal(needsRefresh(state, 1000), false);
});

test("stateFromPair_without_refresh_field_is_cookie_mode", () => {
  const state = stateFromPair({ access: jwt({}), expires_in: 60 }, 0);

  assert.equal(state.cookie, true);
  assert.equal(state.refresh, null);
});

test("needsRefresh_within_margin_is_true_before_it_false", () => {
  const state = { expiresAt: 100_000, lifetime: 100_000 };

  assert.equal(refreshMargin(100_000), 10_000);
  assert.equal(refreshMargin(10 * 60_000), 10_000); // capped at 10 s
  assert.equal(needsRefresh(state, 89_000), false);
  assert.equal(needsRefresh(state, 90_000), true);
  assert.equal(needsRefresh(null, 0), true);
});

test("extendsToken_only_same_session_and_later_expiry", () => {
  const current = { access: "a", sid: "s", expiresAt: 100 };

  assert.equal(extendsToken(current, { access: "b", sid: "s", expiresAt: 200 }), true);
  assert.equal(extendsToken(current, { access: "b", sid: "s", expiresAt: 50 }), false);
  assert.equal(extendsToken(current, { access: "a", sid: "s", expiresAt: 200 }), false);
  assert.equal(extendsToken(current, { access: "b", sid: "other", expiresAt: 200 }), false);
  assert.equal(extendsToken(null, { access: "b", sid: "s", expiresAt: 1 }), true);
});

test("renewedState_from_headers_adopts_only_an_extension", () => {
  const current = { access: jwt({ sid: "s", n: 1 }), sid: "s", expiresAt: 10_000, lifetime: 60_000 };
  const renewed = new Headers({ "X-New-Token": jwt({ sid: "s", n: 2 }), "X-New-Token-Expires-In": "60" });
  const shorter = new Headers({ "X-New-Token": jwt({ sid: "s", n: 3 }), "X-New-Token-Expires-In": "5" });

  assert.equal(renewedState(renewed, current, 5_000).expiresAt, 65_000);
  assert.equal(renewedState(shorter, current, 0), null);
  assert.equal(renewedState(new Headers(), current, 0), null);
  assert.equal(renewedState(renewed, null, 0), null);
});

test("parseRetryAfter_reads_seconds_and_dates", () => {
  assert.equal(parseRetryAfter("3", 0), 3);
  assert.equal(parseRetryAfter(new Date(10_000).toUTCString(), 4_000), 6);
  assert.equal(parseRetryAfter(null, 0), null);
  assert.equal(parseRetryAfter("soon", 0), null);
});

test("backoffDelay_grows_is_capped_and_honours_retry_after", () => {
  assert.equal(backoffDelay(0, null, () => 0), 125);
  assert.equal(backoffDelay(0, null, () => 1), 250);
  assert.equal(backoffDelay(3, null, () => 1), 2000);
  assert.equal(backoffDelay(20, null, () => 1), 8000);
  assert.equal(backoffDelay(0, 2), 2000);
  assert.equal(backoffDelay(0, 3600), 30_000);
});

test("isTransient_network_5xx_429_only", () => {
  assert.deepEqual([0, 429, 500, 503, 400, 401, 403].map(isTransient), [
    true, true, true, true, false, false, false,
  ]);
});

test("readCookie_finds_value_among_others", () => {
  assert.equal(readCookie("a=1; csrftoken=abc%3D; b=2", "csrftoken"), "abc=");
  assert.equal(readCookie("", "csrftoken"), null);
  assert.equal(readCookie(undefined, "csrftoken"), null);
});

test("toWire_fromWire_keeps_remaining_time_across_clocks_an_hour_apart", () => {
  const state = { access: "a", expiresAt: 1_000_000 + 30_000, lifetime: 60_000, sid: "s" };
  const received = fromWire(toWire(state, 1_000_000), 1_000_000 - 3_600_000);

  assert.equal(received.expiresAt, 1_000_000 - 3_600_000 + 30_000);
  assert.equal(fromWire({ access: "a" }, 0), null);
});

// --- the client ---------------------------------------------------------------------------

test("fetch_attaches_token_to_api_origin_only", async () => {
  const server = new FakeServer();
  const seen = [];
  const tokenkit = client(server, new Clock(), {
    fetch: (input, init = {}) => {
      seen.push([String(input), new Headers(init.headers).get("Authorization")]);
      return server.fetch(input, init);
    },
  });
  await tokenkit.login("demo", "pw");

  await tokenkit.fetch("/api/me/");
  await tokenkit.fetch("https://third-party.example/x");

  assert.match(seen[1][1], /^Bearer /);
  assert.deepEqual(seen[2], ["https://third-party.example/x", null]);
});

test("fetch_expired_token_refreshes_first_once_for_concurrent_calls", async () => {
  const server = new FakeServer({ lifetime: 60 });
  const clock = new Clock();
  const tokenkit = client(server, clock);
  await tokenkit.login("demo", "pw");
  clock.time += 61_000;

  const responses = await Promise.all([1, 2, 3, 4, 5].map(() => tokenkit.fetch("/api/me/")));

  assert.deepEqual(responses.map((r) => r.status), [200, 200, 200, 200, 200]);
  assert.equal(server.refreshCalls.length, 1);
  assert.equal(server.refreshCalls[0].body.refresh, "refresh-1");
});

test("fetch_after_token_expired_refreshes_and_retries_once_never_loops", async () => {
  const server = new FakeServer();
  const tokenkit = client(server, new Clock());
  await tokenkit.login("demo", "pw");
  server.apiHook = () => server.json(401, { code: "token_expired" }); // always

  const response = await tokenkit.fetch("/api/me/");

  assert.equal(response.status, 401);
  assert.equal(server.apiCalls.length, 2);
  assert.equal(server.refreshCalls.length, 1);
});

test("fetch_token_expired_when_other_tab_renewed_resends_without_refresh", async () => {
  const clockA = new Clock();
  const server = new FakeServer();
  const a = client(server, clockA, { BroadcastChannel });
  const b = client(server, new Clock(clockA.time + 3_600_000), { BroadcastChannel });
  try {
    await Promise.all([a.ready, b.ready]);
    await a.login("demo", "pw");
    await until(() => b.isLoggedIn());
    const old = await a.accessToken();
    server.apiHook = async (url, headers) => {
      if (headers.get("Authorization") !== `Bearer ${old}`) return null;
      server.valid.delete(old);
      const renewedInA = new Promise((resolve) => a.on("token", resolve));
      clockA.time += 1_000; // the renewal comes later, so it lives longer
      await b.refresh(); // the other tab renews meanwhile and broadcasts
      await renewedInA;
      return server.json(401, { code: "token_expired" });
    };

    const response = await a.fetch("/api/me/");

    assert.equal(response.status, 200);
    assert.equal(server.refreshCalls.length, 1); // b's only
    assert.notEqual(server.apiCalls.at(-1).authorization, `Bearer ${old}`);
  } finally {
    a.close();
    b.close();
  }
});

test("refresh_refused_ends_session_once_for_concurrent_calls_then_stops", async () => {
  const server = new FakeServer();
  const clock = new Clock();
  const tokenkit = client(server, clock);
  const events = record(tokenkit);
  await tokenkit.login("demo", "pw");
  clock.time += 120_000;
  server.refreshAnswers.push({ status: 401, code: "token_revoked" });

  await Promise.all([1, 2, 3].map(() => tokenkit.fetch("/api/me/")));
  await tokenkit.fetch("/api/me/");

  assert.deepEqual(events.filter((e) => e.startsWith("session-ended")), ["session-ended:token_revoked"]);
  assert.equal(server.refreshCalls.length, 1);
  assert.equal(tokenkit.isLoggedIn(), false);
  assert.equal(server.apiCalls.at(-1).authorization, null);
});

test("api_401_token_revoked_ends_session_once", async () => {
  const server = new FakeServer();
  const tokenkit = client(server, new Clock());
  const events = record(tokenkit);
  await tokenkit.login("demo", "pw");
  server.apiHook = () => server.json(401, { code: "token_revoked" });

  await Promise.all([tokenkit.fetch("/api/me/"), tokenkit.fetch("/api/me/")]);

  assert.deepEqual(events.filter((e) => e.startsWith("session-ended")), ["session-ended:token_revoked"]);
  assert.equal(server.refreshCalls.length, 0);
});

test("refresh_backs_off_on_503_and_429_then_succeeds", async () => {
  const server = new FakeServer();
  const clock = new Clock();
  const tokenkit = client(server, clock);
  await tokenkit.login("demo", "pw");
  clock.time += 120_000;
  server.refreshAnswers.push(
    { status: 503, code: "service_unavailable" },
    { status: 429, code: "throttled", headers: { "Retry-After": "0" } },
  );

  const response = await tokenkit.fetch("/api/me/");

  assert.equal(response.status, 200);
  assert.equal(server.refreshCalls.length, 3);
  assert.equal(tokenkit.isLoggedIn(), true);
});

test("refresh_network_errors_give_up_without_ending_session", async () => {
  const server = new FakeServer();
  const clock = new Clock();
  let failures = 0;
  const tokenkit = client(server, clock, {
    refreshAttempts: 2,
    fetch: (input, init) => {
      if (String(input).endsWith("token/refresh/")) {
        failures += 1;
        return Promise.reject(new TypeError("network down"));
      }
      return server.fetch(input, init);
    },
  });
  const events = record(tokenkit);
  await tokenkit.login("demo", "pw");
  clock.time += 120_000;

  await assert.rejects(tokenkit.refresh(), { code: "network_error" });

  assert.equal(failures, 2);
  assert.equal(tokenkit.isLoggedIn(), true);
  assert.equal(events.includes("session-ended:token_revoked"), false);
});

test("x_new_token_adopted_when_it_extends_and_reported_renewed", async () => {
  const server = new FakeServer({ lifetime: 60 });
  const clock = new Clock();
  const tokenkit = client(server, clock);
  const events = record(tokenkit);
  await tokenkit.login("demo", "pw");
  const renewed = jwt({ sid: "s1", n: 99 });
  server.valid.add(renewed);
  server.apiHook = () =>
    server.json(200, {}, { "X-New-Token": renewed, "X-New-Token-Expires-In": "60" });
  clock.time += 30_000;

  await tokenkit.fetch("/api/me/");

  assert.equal(await tokenkit.accessToken(), renewed);
  assert.equal(tokenkit.expiresIn(), 60_000);
  assert.ok(events.includes("token:renewed"));
});

test("cookie_mode_refresh_sends_no_refresh_token_and_includes_credentials", async () => {
  const server = new FakeServer({ cookie: true });
  const clock = new Clock();
  const tokenkit = client(server, clock);
  const state = await tokenkit.login("demo", "pw");
  clock.time += 120_000;

  await tokenkit.fetch("/api/me/");

  assert.equal(state.cookie, true);
  assert.equal(tokenkit.usesRefreshCookie(), true);
  assert.deepEqual(server.refreshCalls[0].body, {});
  assert.equal(server.refreshCalls[0].credentials, "include");
});

test("tabs_share_login_new_tab_and_logout_over_broadcast_channel", async () => {
  const server = new FakeServer();
  const a = client(server, new Clock(), { BroadcastChannel });
  const b = client(server, new Clock(), { BroadcastChannel });
  const eventsB = record(b);
  let c;
  try {
    await a.login("demo", "pw");
    await until(() => b.isLoggedIn());
    c = client(server, new Clock(), { BroadcastChannel }); // a tab opened later
    await c.ready;
    assert.equal(await c.accessToken(), await a.accessToken());

    await a.logout();
    await until(() => !b.isLoggedIn() && !c.isLoggedIn());

    assert.deepEqual(eventsB, ["login:tab", "token:login", "logout:"]);
    assert.equal(server.refreshCalls.length, 0);
  } finally {
    a.close();
    b.close();
    c?.close();
  }
});

/** Web Locks as navigator.locks does them, enough for ifAvailable, signal and steal. */
class Locks {
  constructor() {
    this.held = new Map();
  }

  async request(name, options, callback) {
    if (options.ifAvailable && this.held.has(name)) return callback(null);
    if (!options.steal) {
      while (this.held.has(name)) {
        if (options.signal?.aborted) throw options.signal.reason;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    }
    const lock = { name };
    this.held.set(name, lock);
    try {
      return await callback(lock);
    } finally {
      if (this.held.get(name) === lock) this.held.delete(name);
    }
  }
}

test("refresh_lock_held_forever_by_another_tab_is_stolen_after_timeout", async () => {
  const server = new FakeServer();
  const clock = new Clock();
  const locks = new Locks();
  const tokenkit = client(server, clock, { locks, lockTimeout: 100 });
  await tokenkit.login("demo", "pw");
  clock.time += 120_000;
  locks.request(`tokenkit-refresh:${AUTH}`, {}, () => new Promise(() => {})); // orphaned

  const started = Date.now();
  const response = await tokenkit.fetch("/api/me/");

  assert.equal(response.status, 200);
  assert.equal(server.refreshCalls.length, 1);
  assert.ok(Date.now() - started >= 100);
});
