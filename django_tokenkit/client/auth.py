"""``TokenkitAuth``: one object that is ``auth=`` for requests, httpx and httpx's async client.

It sends ``Authorization: Bearer <access token>``, adopts ``X-New-Token``
from responses, retries a request once after 401 ``token_expired`` (with the
token another thread got meanwhile if there is one, else after a refresh),
and turns 401 ``token_revoked`` / ``token_reused`` into
:class:`~django_tokenkit.client.errors.SessionEnded`. The token logic lives
in :mod:`django_tokenkit.client.session`; this module adapts it to each
library's hook:

- requests: ``__call__`` sets the header and registers a response hook that
  resends through the same connection adapter, as requests' own digest auth
  does;
- httpx: ``sync_auth_flow`` and ``async_auth_flow``. No lock is held across
  a ``yield``: the token is chosen before the request goes out, and what
  comes back is judged after.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncGenerator, Callable, Generator, Mapping
from typing import TYPE_CHECKING, Any

from django_tokenkit.client.clock import Backoff, Clock, system_clock
from django_tokenkit.client.compat import HttpxAuth, RequestsAuthBase
from django_tokenkit.client.errors import SessionEnded, UnexpectedResponse, error_of
from django_tokenkit.client.http import AuthEndpoints, TransportError
from django_tokenkit.client.session import SessionEngine
from django_tokenkit.client.stats import ClientStats
from django_tokenkit.client.stores import MemoryTokenStore, TokenStore

if TYPE_CHECKING:
    import httpx
    import requests

#: A resource request refused with these is retried once with a refreshed token.
RETRY_CODES = frozenset({"token_expired", "token_invalid"})
#: A resource request refused with these means the session is over.
END_CODES = frozenset({"token_revoked", "token_reused"})

NEW_TOKEN_HEADER = "X-New-Token"
NEW_TOKEN_EXPIRES_HEADER = "X-New-Token-Expires-In"

_DONE, _RETRY, _END = "done", "retry", "end"


class TokenkitAuth(HttpxAuth, RequestsAuthBase):
    """Log in to a tokenkit server and keep the session alive for every request.

    ``auth_url`` is where ``django_tokenkit.urls`` is mounted
    (``https://api.example.com/api/auth/``). With ``username`` and
    ``password`` the first request logs in; without them, the session comes
    from ``store`` or :meth:`set_tokens`. ``store`` defaults to memory; use a
    :class:`~django_tokenkit.client.FileTokenStore` for a command-line tool
    or a :class:`~django_tokenkit.client.RedisTokenStore` to share one
    session between processes. ``clock`` (seconds, default ``time.time``)
    times expiry from ``expires_in`` at receipt. ``on_session_ended`` is
    called once, with the :class:`SessionEnded`, when the session ends.

    Share one instance between all threads and tasks of a process: that is
    what keeps one refresh in flight.
    """

    requires_request_body = True  # httpx: a retried request is sent again whole

    def __init__(
        self,
        auth_url: str,
        username: str | None = None,
        password: str | None = None,
        *,
        store: TokenStore | None = None,
        clock: Clock = system_clock,
        on_session_ended: Callable[[SessionEnded], object] | None = None,
        backoff: Backoff | None = None,
        lock_timeout: float = 30.0,
        timeout: float = 10.0,
        verify: bool | str = True,
        http: Any = None,
    ) -> None:
        if (username is None) != (password is None):
            raise ValueError("give both username and password, or neither")
        self._engine = SessionEngine(
            AuthEndpoints(auth_url, timeout=timeout, verify=verify, http=http),
            store=store if store is not None else MemoryTokenStore(),
            clock=clock,
            backoff=backoff or Backoff(),
            lock_timeout=lock_timeout,
            username=username,
            password=password,
            on_session_ended=on_session_ended,
        )

    # --- the public API ------------------------------------------------------------

    @property
    def access_token(self) -> str:
        """A usable access token (logs in or refreshes first when needed; blocking)."""
        return self._engine.token()

    async def aaccess_token(self) -> str:
        """:attr:`access_token` for asyncio code, without blocking the event loop."""
        return await self._engine.atoken()

    @property
    def on_session_ended(self) -> Callable[[SessionEnded], object] | None:
        return self._engine.on_session_ended

    @on_session_ended.setter
    def on_session_ended(self, hook: Callable[[SessionEnded], object] | None) -> None:
        self._engine.on_session_ended = hook

    @property
    def stats(self) -> ClientStats:
        """Counters of what this process's client did (logins, refresh calls, retries...)."""
        return self._engine.stats

    @property
    def store(self) -> TokenStore:
        return self._engine.store

    def login(self) -> None:
        """Log in now with the credentials, starting a new session (also after one ended).

        Raises :class:`~django_tokenkit.client.errors.LoginFailed` when the
        server refuses the credentials.
        """
        self._engine.login()

    async def alogin(self) -> None:
        await asyncio.to_thread(self._engine.login)

    def logout(self, all: bool = False) -> None:  # `all`: the SPEC's name for the flag
        """End the session on the server (``all``: every session of the user) and forget it.

        Afterwards the object is as new: the next request logs in again if
        it has credentials.
        """
        self._engine.logout(everywhere=all)

    async def alogout(self, all: bool = False) -> None:
        await asyncio.to_thread(self._engine.logout, all)

    def set_tokens(self, pair: Mapping[str, Any]) -> None:
        """Use a pair obtained elsewhere (the JSON body of ``token/``) from now on."""
        self._engine.set_tokens(pair)

    def sessions(self) -> list[dict[str, Any]]:
        """The user's active sessions (``GET sessions/``)."""
        endpoints = self._engine.endpoints
        token = self._engine.token()
        for attempt in (0, 1):
            try:
                response = endpoints.request("GET", "sessions/", bearer=token)
            except TransportError as error:
                raise UnexpectedResponse(0, f"network error: {error}") from None
            if response.status == 200 and isinstance(response.data, list):
                return list(response.data)
            if response.status == 401 and response.code in END_CODES:
                self._engine.end(response.code, response.detail)
            if response.status == 401 and response.code in RETRY_CODES and attempt == 0:
                token = self._engine.token_after_rejection(token)
                continue
            break
        raise UnexpectedResponse(response.status, response.detail)

    def close(self) -> None:
        """Close the HTTP client used for auth calls (not one passed in as ``http``)."""
        self._engine.endpoints.close()

    # --- judging a response ---------------------------------------------------------

    def _judge(
        self, status: int, headers: Mapping[str, str], parse: Callable[[], Any], *, final: bool
    ) -> tuple[str, str, str]:
        if status < 400:
            new_token = headers.get(NEW_TOKEN_HEADER)
            expires_in = headers.get(NEW_TOKEN_EXPIRES_HEADER)
            if new_token and expires_in:
                self._engine.adopt_renewal(new_token, expires_in)
            return _DONE, "", ""
        if status != 401:
            return _DONE, "", ""
        code, detail = error_of(parse)
        if code in END_CODES:
            return _END, code, detail
        if code in RETRY_CODES and not final:
            return _RETRY, code, detail
        return _DONE, code, detail

    # --- requests ----------------------------------------------------------------------

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        token = self._engine.token()
        request.headers["Authorization"] = f"Bearer {token}"
        request.register_hook(  # type: ignore[no-untyped-call]  # untyped in types-requests
            "response", functools.partial(self._on_response, sent=token)
        )
        return request

    def _on_response(
        self, response: requests.Response, *args: Any, sent: str, **kwargs: Any
    ) -> requests.Response:
        action, code, detail = self._judge(
            response.status_code, response.headers, response.json, final=False
        )
        if action == _END:
            self._engine.end(code, detail)
        if action != _RETRY:
            return response
        token = self._engine.token_after_rejection(sent)
        self._engine.count("retries")
        response.close()
        retry = response.request.copy()
        retry.headers["Authorization"] = f"Bearer {token}"
        if getattr(retry, "_body_position", None) is not None:
            from requests.utils import rewind_body

            rewind_body(retry)
        retried: requests.Response = response.connection.send(retry, **kwargs)
        retried.history.append(response)
        retried.request = retry
        action, code, detail = self._judge(
            retried.status_code, retried.headers, retried.json, final=True
        )
        if action == _END:
            self._engine.end(code, detail)
        return retried

    # --- httpx ---------------------------------------------------------------------------

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        token = self._engine.token()
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401:
            response.read()
        action, code, detail = self._judge(
            response.status_code, response.headers, response.json, final=False
        )
        if action == _END:
            self._engine.end(code, detail)
        if action != _RETRY:
            return
        token = self._engine.token_after_rejection(token)
        self._engine.count("retries")
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401:
            response.read()
        action, code, detail = self._judge(
            response.status_code, response.headers, response.json, final=True
        )
        if action == _END:
            self._engine.end(code, detail)

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        token = await self._engine.atoken()
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401:
            await response.aread()
        action, code, detail = self._judge(
            response.status_code, response.headers, response.json, final=False
        )
        if action == _END:
            # Ending touches the store (file or Redis I/O): off the event loop.
            await asyncio.to_thread(self._engine.end, code, detail)
        if action != _RETRY:
            return
        token = await self._engine.atoken_after_rejection(token)
        self._engine.count("retries")
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401:
            await response.aread()
        action, code, detail = self._judge(
            response.status_code, response.headers, response.json, final=True
        )
        if action == _END:
            await asyncio.to_thread(self._engine.end, code, detail)
