"""The refresh-token cookie (``TOKENKIT["REFRESH_COOKIE"] = True``).

In cookie mode the refresh token never reaches JavaScript: login and refresh
set it as an HttpOnly cookie scoped to the auth URLs, and leave it out of
the JSON body. Because a browser attaches that cookie to any request to
those URLs, including forged cross-site ones, a refresh or logout that reads
the token from the cookie must pass Django's CSRF check: the single-page app
sends the ``csrftoken`` cookie's value in the ``X-CSRFToken`` header (the
login response sets that cookie).
"""

from __future__ import annotations

import os

from django.http import HttpRequest, HttpResponseBase
from django.middleware.csrf import get_token
from django.urls import reverse
from rest_framework.authentication import CSRFCheck
from rest_framework.exceptions import PermissionDenied

from django_tokenkit.conf import tokenkit_settings
from django_tokenkit.tokens import Token


def enabled() -> bool:
    return tokenkit_settings.refresh_cookie


def cookie_path() -> str:
    """The configured path, else the URL prefix shared by refresh and logout."""
    configured = tokenkit_settings.refresh_cookie_path
    if configured is not None:
        return configured
    common = os.path.commonprefix([reverse("tokenkit:token_refresh"), reverse("tokenkit:logout")])
    return common[: common.rfind("/") + 1] or "/"


def set_refresh_cookie(response: HttpResponseBase, raw: str, token: Token) -> None:
    response.set_cookie(
        tokenkit_settings.refresh_cookie_name,
        raw,
        expires=token.expires_at,
        path=cookie_path(),
        domain=tokenkit_settings.refresh_cookie_domain,
        secure=tokenkit_settings.refresh_cookie_secure,
        httponly=True,
        samesite=tokenkit_settings.refresh_cookie_samesite,
    )


def delete_refresh_cookie(response: HttpResponseBase) -> None:
    response.delete_cookie(
        tokenkit_settings.refresh_cookie_name,
        path=cookie_path(),
        domain=tokenkit_settings.refresh_cookie_domain,
        samesite=tokenkit_settings.refresh_cookie_samesite,
    )


def refresh_from_cookie(request: HttpRequest) -> str | None:
    """The cookie's refresh token, after the CSRF check it requires; None if absent.

    Raises DRF's ``PermissionDenied`` (403) when the CSRF check fails.
    """
    raw = request.COOKIES.get(tokenkit_settings.refresh_cookie_name)
    if not raw:
        return None
    enforce_csrf(request)
    return raw


def enforce_csrf(request: HttpRequest) -> None:
    """Run Django's CSRF check on ``request``, as DRF's session auth does."""

    def no_response(request: HttpRequest) -> None:
        return None

    check = CSRFCheck(no_response)  # type: ignore[arg-type]  # only process_view runs
    check.process_request(request)
    reason = check.process_view(request, None, (), {})  # type: ignore[arg-type]  # no view
    if reason:
        raise PermissionDenied(f"CSRF Failed: {reason}", code="csrf_failed")


def ensure_csrf_cookie(request: HttpRequest) -> None:
    """Make the response set ``csrftoken`` so the app can send it back."""
    get_token(request)
