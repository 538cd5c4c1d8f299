"""``SlidingTokenMiddleware``: renew an access token in passing (SPEC section 6).

DRF authenticates inside the view, and stores the outcome on the Django
request as ``request.auth``; this middleware reads it after the view has
run. When the request succeeded (status < 400) with a tokenkit access token
that has at most ``SLIDING_THRESHOLD`` left, the response carries::

    X-New-Token: <access token>
    X-New-Token-Expires-In: <seconds>

and both names are appended to ``Access-Control-Expose-Headers`` so a
browser on another origin may read them. Requests whose token is far from
expiry cost an attribute read and a comparison: no cache, no database.

Every response to a request authenticated by an API token that expires
carries ``X-API-Token-Expires-At: <RFC 3339 UTC>`` (also exposed to CORS),
so a script or job can see its token's end coming on every call.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import timezone as dt_timezone
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponseBase
from django.utils import timezone

from django_tokenkit.api_token_store import APITokenCredential
from django_tokenkit.services import sliding
from django_tokenkit.tokens import ACCESS, Token

logger = logging.getLogger(__name__)

API_TOKEN_EXPIRES_HEADER = "X-API-Token-Expires-At"
NEW_TOKEN_HEADER = "X-New-Token"
NEW_TOKEN_EXPIRES_HEADER = "X-New-Token-Expires-In"
EXPOSE_HEADERS = "Access-Control-Expose-Headers"


def _renewable_token(request: HttpRequest, response: HttpResponseBase) -> Token | None:
    if response.status_code >= 400:
        return None
    token = getattr(request, "auth", None)
    if not isinstance(token, Token) or token.token_type != ACCESS or not token.issued_here:
        # Anonymous, session auth, API tokens, other packages' tokens, and
        # tokens another service issued (JWKSAuthentication): only the
        # issuer, holding the private key and the session, renews.
        return None
    if not sliding.needs_renewal(token, timezone.now()):
        return None
    return token


def _renew(token: Token) -> tuple[str, Token] | None:
    """:func:`~django_tokenkit.services.sliding.renew_access_token`, or None on a database error.

    The view has already answered; a renewal is a courtesy the next request
    can offer again, so a failure to record it (the session's last use) must
    not turn that answer into a 500. The cache's failures are already
    absorbed by the service.
    """
    try:
        return sliding.renew_access_token(token)
    except DatabaseError:
        logger.exception(
            "tokenkit could not renew an access token of session %s: the database failed; "
            "the response goes out without X-New-Token",
            token.sid,
        )
        return None


def add_renewal_headers(response: HttpResponseBase, raw: str, renewed: Token) -> None:
    """Set the renewal headers and expose them to CORS without clobbering others."""
    seconds = max(int(renewed.lifetime_left().total_seconds()), 0)
    response[NEW_TOKEN_HEADER] = raw
    response[NEW_TOKEN_EXPIRES_HEADER] = str(seconds)
    _expose(response, NEW_TOKEN_HEADER, NEW_TOKEN_EXPIRES_HEADER)


def _expose(response: HttpResponseBase, *names: str) -> None:
    """Add ``names`` to ``Access-Control-Expose-Headers``, keeping what is there."""
    existing = [
        name.strip() for name in response.get(EXPOSE_HEADERS, "").split(",") if name.strip()
    ]
    lowered = {name.lower() for name in existing}
    for name in names:
        if name.lower() not in lowered:
            existing.append(name)
    response[EXPOSE_HEADERS] = ", ".join(existing)


def add_api_token_expiry_header(request: HttpRequest, response: HttpResponseBase) -> None:
    """``X-API-Token-Expires-At`` when an expiring API token authenticated the request."""
    credential = getattr(request, "auth", None)
    if isinstance(credential, APITokenCredential) and credential.expires_at is not None:
        response[API_TOKEN_EXPIRES_HEADER] = credential.expires_at.astimezone(
            dt_timezone.utc
        ).strftime("%Y-%m-%dT%H:%M:%SZ")
        _expose(response, API_TOKEN_EXPIRES_HEADER)


class SlidingTokenMiddleware:
    """Add ``X-New-Token`` to successful responses whose access token is nearly spent.

    Works on WSGI and ASGI stacks. Place it anywhere in ``MIDDLEWARE``; if
    you configure django-cors-headers' ``CORS_EXPOSE_HEADERS``, list both
    headers there too, because that middleware replaces the expose list.
    """

    sync_capable = True
    async_capable = True

    def __init__(
        self,
        get_response: Callable[[HttpRequest], HttpResponseBase]
        | Callable[[HttpRequest], Awaitable[HttpResponseBase]],
    ) -> None:
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if iscoroutinefunction(self):
            return self.__acall__(request)
        response: HttpResponseBase = self.get_response(request)  # type: ignore[assignment]  # sync branch
        add_api_token_expiry_header(request, response)
        token = _renewable_token(request, response)
        if token is not None:
            renewal = _renew(token)
            if renewal is not None:
                add_renewal_headers(response, *renewal)
        return response

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        response: HttpResponseBase = await self.get_response(request)  # type: ignore[misc]  # async branch
        add_api_token_expiry_header(request, response)
        token = _renewable_token(request, response)
        if token is not None:
            renewal = await sync_to_async(_renew)(token)
            if renewal is not None:
                add_renewal_headers(response, *renewal)
        return response
