"""``APITokenAuth``: send an API token (``tkp_...``); never refresh, warn before expiry.

An API token is for a script or a service that runs unattended, so the
failure to avoid is the one nobody sees coming: the token expiring over a
weekend. Every response to a request made with a token that has an expiry
carries ``X-API-Token-Expires-At`` (RFC 3339, UTC; SPEC section 6); when it
is less than ``warn_within`` away (7 days by default) this logs a WARNING
on the ``django_tokenkit.client`` logger, at most once a day per token and
process, naming the token by its hint (``tkp_`` and its last four
characters), never the token itself.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import AsyncGenerator, Callable, Generator, Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from django_tokenkit.client.clock import Clock, parse_rfc3339, system_clock
from django_tokenkit.client.compat import HttpxAuth, RequestsAuthBase
from django_tokenkit.client.errors import (
    APITokenError,
    APITokenExpired,
    APITokenRevoked,
    error_of,
)

if TYPE_CHECKING:
    import httpx
    import requests

logger = logging.getLogger("django_tokenkit.client")

PREFIX = "tkp_"
EXPIRES_AT_HEADER = "X-API-Token-Expires-At"
DAY = 86400.0

_ERRORS: dict[str, type[APITokenError]] = {
    "token_expired": APITokenExpired,
    "token_revoked": APITokenRevoked,
}

# Per process: when each token (by digest) was last warned about.
_warned_at: dict[str, float] = {}
_warned_lock = threading.Lock()


class APITokenAuth(HttpxAuth, RequestsAuthBase):
    """``auth=`` for requests, ``httpx.Client`` and ``httpx.AsyncClient`` with an API token.

    Sends ``Authorization: Bearer tkp_...``. A 401 ``token_expired`` raises
    :class:`~django_tokenkit.client.errors.APITokenExpired` and a 401
    ``token_revoked`` :class:`~django_tokenkit.client.errors.APITokenRevoked`,
    each saying what to do; there is nothing to refresh. ``expires_at`` is
    the expiry the server last announced (None until then, or for a token
    that never expires).
    """

    def __init__(
        self,
        token: str,
        *,
        warn_within: float = 7 * DAY,
        clock: Clock = system_clock,
    ) -> None:
        token = token.strip()
        if not token.startswith(PREFIX):
            raise ValueError(
                "APITokenAuth takes an API token (tkp_...); for a username and password "
                "use TokenkitAuth"
            )
        self._token = token
        self.hint = PREFIX + token[-4:]
        self._digest = hashlib.sha256(token.encode()).hexdigest()
        self.warn_within = warn_within
        self.clock = clock
        self.expires_at: datetime | None = None

    def __repr__(self) -> str:
        return f"APITokenAuth({self.hint!r})"  # never the token

    def _check(self, status: int, headers: Mapping[str, str], parse: Callable[[], Any]) -> None:
        announced = headers.get(EXPIRES_AT_HEADER)
        if announced:
            expires_at = parse_rfc3339(announced)
            if expires_at is not None:
                self.expires_at = expires_at
                self._maybe_warn(expires_at)
        if status == 401:
            code, detail = error_of(parse)
            error = _ERRORS.get(code)
            if error is not None:
                raise error(self.hint, detail)

    def _maybe_warn(self, expires_at: datetime) -> None:
        now = self.clock()
        left = expires_at.timestamp() - now
        if left >= self.warn_within:
            return
        with _warned_lock:
            last = _warned_at.get(self._digest)
            if last is not None and now - last < DAY:
                return
            _warned_at[self._digest] = now
        logger.warning(
            "tokenkit API token %s expires at %s (in %.1f days): rotate it "
            "(POST api-tokens/<id>/rotate/) and deploy the new token before then",
            self.hint,
            expires_at.astimezone(timezone.utc).isoformat().replace("+00:00", "Z"),
            max(left, 0.0) / DAY,
        )

    # --- requests ---------------------------------------------------------------

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token}"
        request.register_hook(  # type: ignore[no-untyped-call]  # untyped in types-requests
            "response", self._on_response
        )
        return request

    def _on_response(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self._check(response.status_code, response.headers, response.json)

    # --- httpx ---------------------------------------------------------------------

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._token}"
        response = yield request
        if response.status_code == 401:
            response.read()
        self._check(response.status_code, response.headers, response.json)

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        request.headers["Authorization"] = f"Bearer {self._token}"
        response = yield request
        if response.status_code == 401:
            await response.aread()
        self._check(response.status_code, response.headers, response.json)
