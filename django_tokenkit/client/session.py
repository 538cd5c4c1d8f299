"""The engine behind :class:`~django_tokenkit.client.TokenkitAuth`: one session, one refresh.

Every rule here answers a failure seen in other clients:

- **One refresh in flight per session per process.** Threads queue on
  ``_refresh_lock`` and, once they hold it, look again: whoever refreshed
  before them already left a usable token. Asyncio tasks queue on a lock of
  their event loop (never blocking it) and hand the blocking part to a
  worker thread, which takes the same thread lock; no lock is held while a
  request is out. Between processes, the store's lock plays the same part
  and the store is re-read inside it.
- **Two stages.** From ``early_at`` a background thread refreshes while the
  token still works; its failure never ends the session and never delays a
  request. Only from ``spent_at`` does a caller wait for the refresh.
- **Passing failures back off, dead sessions stop.** Network errors, 5xx,
  408 and 429 are retried with back-off (honouring ``Retry-After``) within a
  budget; a 401 from ``token/refresh/`` ends the session: ``SessionEnded``
  is raised, the hook is called once, and no request is sent again until
  :meth:`SessionEngine.login`.
- **Rotated refresh tokens are persisted before use**, so a crash after a
  refresh never leaves the store with a retired token that a later run would
  present as a reuse.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import weakref
from collections.abc import Callable, Mapping
from typing import Any, NoReturn

from django_tokenkit.client.clock import Backoff, Clock
from django_tokenkit.client.errors import (
    LoginFailed,
    NotLoggedIn,
    ServerUnavailable,
    SessionEnded,
    UnexpectedResponse,
)
from django_tokenkit.client.http import AuthEndpoints, AuthResponse, TransportError
from django_tokenkit.client.records import MalformedPair, TokenRecord
from django_tokenkit.client.retry import post_with_backoff
from django_tokenkit.client.stats import ClientStats
from django_tokenkit.client.stores import TokenStore

logger = logging.getLogger(__name__)

#: After a background refresh found the store locked by another process.
BUSY_RETRY = 0.05


class _Dead(Exception):
    """Internal: the auth server refused the refresh token for good."""

    def __init__(self, ended: SessionEnded) -> None:
        self.ended = ended


class SessionEngine:
    """Holds one session's tokens and renews them; thread-safe and asyncio-safe."""

    def __init__(
        self,
        endpoints: AuthEndpoints,
        *,
        store: TokenStore,
        clock: Clock,
        backoff: Backoff,
        lock_timeout: float,
        username: str | None = None,
        password: str | None = None,
        on_session_ended: Callable[[SessionEnded], object] | None = None,
    ) -> None:
        self.endpoints = endpoints
        self.store = store
        self.clock = clock
        self.backoff = backoff
        self.lock_timeout = lock_timeout
        self.on_session_ended = on_session_ended
        self._credentials = (username, password) if username is not None else None
        self.stats = ClientStats()
        self._record: TokenRecord | None = None
        self._ended: SessionEnded | None = None
        # A refresh token a background refresh was refused: never sent again.
        self._dead: tuple[str, SessionEnded] | None = None
        self._refresh_lock = threading.Lock()  # held for a whole refresh or login
        self._state = threading.Lock()  # held for a few attribute reads and writes
        self._early_running = False
        self._early_failures = 0
        self._early_not_before = float("-inf")
        self._loop_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )

    # --- the fast path: no I/O, no waiting ------------------------------------

    @property
    def record(self) -> TokenRecord | None:
        return self._record

    def raise_if_ended(self) -> None:
        ended = self._ended
        if ended is not None:
            # A new instance per raise: threads must not share one traceback.
            raise SessionEnded(ended.code, ended.detail)

    def fast_token(self) -> str | None:
        """The access token to send now, or None when the caller must wait for one."""
        self.raise_if_ended()
        record = self._record
        if record is None:
            return None
        now = self.clock()
        if now >= record.spent_at:
            return None
        if now >= record.early_at:
            self._start_early(now)
        return record.access

    def newer_than(self, rejected: str) -> str | None:
        """A token that replaced ``rejected`` while its request was out, if still good."""
        self.raise_if_ended()
        record = self._record
        if record is not None and record.access != rejected and self.clock() < record.spent_at:
            return record.access
        return None

    # --- sync entry points --------------------------------------------------------

    def token(self) -> str:
        """A usable access token; logs in or refreshes (blocking) when needed."""
        return self.fast_token() or self.obtain(None)

    def token_after_rejection(self, rejected: str) -> str:
        """The token to retry with after ``rejected`` got 401 ``token_expired``."""
        return self.newer_than(rejected) or self.obtain(rejected)

    # --- asyncio entry points: wait on the loop's lock, block only a worker thread --

    def _loop_lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        with self._state:
            lock = self._loop_locks.get(loop)
            if lock is None:
                lock = self._loop_locks[loop] = asyncio.Lock()
        return lock

    async def atoken(self) -> str:
        token = self.fast_token()
        if token is not None:
            return token
        async with self._loop_lock():
            # The task ahead of us in this loop may have just renewed it.
            token = self.fast_token()
            if token is not None:
                return token
            return await asyncio.to_thread(self.obtain, None)

    async def atoken_after_rejection(self, rejected: str) -> str:
        token = self.newer_than(rejected)
        if token is not None:
            return token
        async with self._loop_lock():
            token = self.newer_than(rejected)
            if token is not None:
                return token
            return await asyncio.to_thread(self.obtain, rejected)

    # --- the blocking path ----------------------------------------------------------

    def obtain(self, rejected: str | None) -> str:
        """Wait for a usable token: adopt one another thread or process got, or renew.

        ``rejected`` is an access token the server refused as expired: it is
        renewed even if our clock thinks it still good.
        """
        with self._refresh_lock:
            self.raise_if_ended()
            record = self._record
            if record is not None and record.access != rejected and self.clock() < record.spent_at:
                return record.access  # renewed while we waited for the lock
            if record is None:
                return self._load_or_login().access
            renewed = self._refresh(record, rejected=rejected, early=False)
            assert renewed is not None  # a blocking refresh returns or raises
            return renewed.access

    def _load_or_login(self) -> TokenRecord:
        stored = self._load()
        if stored is None:
            return self._login(reuse_stored=True)
        self._set(stored)
        if self.clock() < stored.spent_at:
            return stored
        renewed = self._refresh(stored, rejected=None, early=False)
        assert renewed is not None
        return renewed

    def _fresher(
        self, stored: TokenRecord, seen: TokenRecord, rejected: str | None, early: bool
    ) -> bool:
        """Whether ``stored`` (written by another thread or process) spares us a refresh."""
        if stored.access in (seen.access, rejected):
            return False
        if stored.access_expires_at < seen.access_expires_at:
            return False
        return self.clock() < (stored.early_at if early else stored.spent_at)

    def _refresh(
        self, seen: TokenRecord, *, rejected: str | None, early: bool
    ) -> TokenRecord | None:
        """Refresh ``seen``'s session under the store's lock; the caller holds ``_refresh_lock``.

        Returns None only for a background refresh that did not happen (the
        store was locked, or the server failed); a blocking one returns the
        new record or raises.
        """
        with self.store.lock(0 if early else self.lock_timeout) as acquired:
            if not acquired:
                if early:
                    self._early_later(BUSY_RETRY)
                    return None
                # The holder died or is slow; refreshing anyway is safe within the
                # server's grace period, which answers concurrent refreshes alike.
                logger.warning(
                    "tokenkit client: %r stayed locked for %.0fs; refreshing without the lock",
                    self.store,
                    self.lock_timeout,
                )
            # Re-read: another process may have refreshed while we waited.
            stored = self._load()
            if stored is not None and self._fresher(stored, seen, rejected, early):
                self._set(stored)
                self.count("adopted_from_store")
                return stored
            # The store holds the newest refresh token (persisted before use).
            refresh = stored.refresh if stored is not None else seen.refresh
            try:
                return self._rotate(refresh, early=early)
            except _Dead as dead:
                if early:
                    with self._state:
                        self._dead = (refresh, dead.ended)
                    logger.warning(
                        "tokenkit client: a background refresh was refused (%s); using the "
                        "current access token while it lasts",
                        dead.ended.code,
                    )
                    return None
                self._forget(refresh)
                ended = dead.ended
        self._end(ended, forget=None)

    def _rotate(self, refresh: str, *, early: bool) -> TokenRecord | None:
        dead = self._dead
        if dead is not None and dead[0] == refresh:
            raise _Dead(dead[1])
        response = self._post_with_backoff(
            "token/refresh/", {"refresh": refresh}, early=early, what="refresh"
        )
        if response is None:
            return None
        if response.status != 200:
            raise _Dead(SessionEnded(response.code or "token_invalid", response.detail))
        try:
            record = TokenRecord.from_pair(response.data or {}, self.clock())
        except MalformedPair as error:
            if early:
                self._early_failed(None)
                return None
            raise UnexpectedResponse(response.status, str(error)) from None
        self.count("refreshes")
        self._save(record)  # persisted before anyone uses it
        self._set(record)
        with self._state:
            self._early_failures = 0
            self._early_not_before = float("-inf")
        return record

    def _post_with_backoff(
        self, path: str, payload: Mapping[str, Any], *, early: bool, what: str
    ) -> AuthResponse | None:
        """:func:`~django_tokenkit.client.retry.post_with_backoff`; counts and notes failures."""
        return post_with_backoff(
            self.endpoints,
            path,
            payload,
            backoff=self.backoff,
            what=what,
            on_attempt=lambda: self.count("refresh_calls" if what == "refresh" else "logins"),
            on_early_failure=self._early_failed if early else None,
        )

    # --- background refresh ------------------------------------------------------

    def _start_early(self, now: float) -> None:
        with self._state:
            if self._early_running or now < self._early_not_before or self._ended is not None:
                return
            record = self._record
            if record is None or (self._dead is not None and self._dead[0] == record.refresh):
                return
            self._early_running = True
        thread = threading.Thread(target=self._early, name="tokenkit-refresh", daemon=True)
        try:
            thread.start()
        except RuntimeError:  # interpreter shutting down
            with self._state:
                self._early_running = False

    def _early(self) -> None:
        try:
            if not self._refresh_lock.acquire(blocking=False):
                return  # a blocking refresh is under way: it serves everybody
            try:
                record = self._record
                if self._ended is None and record is not None and self.clock() >= record.early_at:
                    self._refresh(record, rejected=None, early=True)
            finally:
                self._refresh_lock.release()
        except Exception:
            # Never let a background failure end the session: the blocking path decides.
            logger.exception("tokenkit client: background refresh failed")
            self._early_failed(None)
        finally:
            with self._state:
                self._early_running = False

    def _early_failed(self, retry_after: float | None) -> None:
        with self._state:
            self._early_failures += 1
            failures = self._early_failures
        self._early_later(self.backoff.delay(failures - 1, retry_after))

    def _early_later(self, delay: float) -> None:
        with self._state:
            self._early_not_before = self.clock() + delay

    # --- responses to the caller's requests ------------------------------------------

    def adopt_renewal(self, access: str, expires_in: str) -> None:
        """Take ``X-New-Token`` when it outlives the token we hold (SPEC section 6).

        Kept in memory only: the refresh token is unchanged, and other
        processes get the same renewal from the server for the same old token.
        """
        try:
            seconds = float(expires_in)
        except ValueError:
            return
        now = self.clock()
        with self._state:
            record = self._record
            if record is None or self._ended is not None or access == record.access:
                return
            if now + seconds <= record.access_expires_at:
                return  # a renewal of an older token than ours
            self._record = record.with_access(access, seconds, now)
            self.stats.renewals_adopted += 1

    def end(self, code: str, detail: str) -> NoReturn:
        """The server refused our access token for good: end the session and raise."""
        record = self._record
        self._end(SessionEnded(code, detail), forget=record.refresh if record else None)

    def _end(self, ended: SessionEnded, *, forget: str | None) -> NoReturn:
        with self._state:
            first = self._ended is None
            if first:
                self._ended = ended
        if first:
            logger.warning("tokenkit client: the session has ended (%s)", ended.code)
            if forget is not None:
                with self.store.lock(min(self.lock_timeout, 1.0)) as acquired:
                    if acquired:
                        self._forget(forget)
            hook = self.on_session_ended
            if hook is not None:
                try:
                    hook(ended)
                except Exception:
                    logger.exception("tokenkit client: the on_session_ended hook failed")
        current = self._ended or ended
        raise SessionEnded(current.code, current.detail)

    def _forget(self, refresh: str) -> None:
        """Drop the dead session from the store (unless someone stored another since)."""
        try:
            self.store.clear(if_refresh=refresh)
        except Exception:
            logger.exception("tokenkit client: could not clear %r", self.store)

    # --- login, logout, adopting a pair ------------------------------------------

    def login(self) -> TokenRecord:
        """Start a new session with the credentials; clears an ended state."""
        with self._refresh_lock:
            return self._login(reuse_stored=False)

    def _login(self, *, reuse_stored: bool) -> TokenRecord:
        if self._credentials is None:
            raise NotLoggedIn(
                "no tokenkit session to use: give username and password, call set_tokens(), "
                "or use a store that holds a session"
            )
        username, password = self._credentials
        with self.store.lock(self.lock_timeout):
            if reuse_stored:
                stored = self._load()  # another process may have logged in meanwhile
                if stored is not None and self.clock() < stored.spent_at:
                    self._set(stored)
                    return stored
            response = self._post_with_backoff(
                "token/", {"username": username, "password": password}, early=False, what="login"
            )
            assert response is not None
            if response.status != 200:
                raise LoginFailed(response.code or "login_failed", response.detail, response.status)
            try:
                record = TokenRecord.from_pair(response.data or {}, self.clock())
            except MalformedPair as error:
                raise UnexpectedResponse(response.status, str(error)) from None
            self._save(record)
        self._reset(record)
        return record

    def set_tokens(self, pair: Mapping[str, Any]) -> TokenRecord:
        """Use a pair obtained elsewhere (a ``token/`` response body) from now on."""
        record = TokenRecord.from_pair(pair, self.clock())
        with self._refresh_lock:
            with self.store.lock(self.lock_timeout):
                self._save(record)
            self._reset(record)
        return record

    def _reset(self, record: TokenRecord | None) -> None:
        with self._state:
            self._record = record
            self._ended = None
            self._dead = None
            self._early_failures = 0
            self._early_not_before = float("-inf")

    def logout(self, everywhere: bool) -> None:
        """End this session (``everywhere``: all of the user's sessions) and forget it."""
        with self._refresh_lock:
            record = self._record or self._load()
            if record is None:
                return
            if everywhere and self._ended is None and self.clock() >= record.spent_at:
                # logout-all authenticates with the access token: renew it first.
                record = self._refresh(record, rejected=None, early=False) or record
            payload: dict[str, Any] = {"refresh": record.refresh}
            if everywhere:
                payload["all"] = True
            try:
                response = self.endpoints.request("POST", "logout/", payload, bearer=record.access)
            except TransportError as error:
                raise ServerUnavailable(f"tokenkit logout failed: network error: {error}") from None
            if response.status not in (204, 200, 401):
                raise UnexpectedResponse(response.status, response.detail)
            with self.store.lock(self.lock_timeout):
                self._forget(record.refresh)
            self._reset(None)

    # --- store and state helpers --------------------------------------------------

    def _load(self) -> TokenRecord | None:
        try:
            return self.store.load(self.clock())
        except Exception:
            # The store is a cache of the session: without it we carry on from memory.
            logger.exception("tokenkit client: could not read %r", self.store)
            return None

    def _save(self, record: TokenRecord) -> None:
        try:
            self.store.save(record, self.clock())
        except Exception:
            # The new refresh token is the only live one now: keep it in memory.
            logger.exception("tokenkit client: could not write %r", self.store)

    def _set(self, record: TokenRecord) -> None:
        with self._state:
            self._record = record

    def count(self, counter: str) -> None:
        with self._state:
            setattr(self.stats, counter, getattr(self.stats, counter) + 1)
