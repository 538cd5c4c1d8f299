"""The refresh-token cookie (``TOKENKIT["REFRESH_COOKIE"] = True``).

In cookie mode the refresh token never reaches JavaScript: login and refresh
set it as an HttpOnly cookie scoped to the auth URLs, and leave it out of
the JSON body. Because a browser attaches that cookie to any request to
those URLs, including forged cross-site ones, a refresh or logout that reads
the token from the cookie must pass Django's CSRF check: the single-page app
sends the ``csrftoken`` cookie's value in the ``X-CSRFToken`` header (the
login response sets that cookie).

Login needs protecting too, from the opposite attack (login CSRF): a page on
another site posting the attacker's credentials, so that the refresh cookie
the browser stores logs the visitor into the attacker's account. A
single-page app has no ``csrftoken`` before its first login, so
:func:`enforce_login_csrf` accepts only what a cross-site page cannot send
without the API's consent: an ``application/json`` body, from the API's own
origin (or one in ``CSRF_TRUSTED_ORIGINS``) when the browser names it.
"""

from __future__ import annotations

import os

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase
from django.middleware.csrf import CSRF_SESSION_KEY, REASON_NO_CSRF_COOKIE, get_token
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
    """Run Django's CSRF check on ``request``, as DRF's session auth does.

    Raises DRF's ``PermissionDenied`` (403, code ``csrf_failed``) on failure.
    """
    reason = csrf_failure(request)
    if reason:
        raise csrf_failed(reason)


def enforce_login_csrf(request: HttpRequest) -> None:
    """Refuse a cookie-mode login that another site could have made the browser send.

    * The body must be ``application/json``. An HTML form can only send
      ``application/x-www-form-urlencoded``, ``multipart/form-data`` or
      ``text/plain``, and a cross-site ``fetch`` with any other type needs a
      CORS preflight that the API has to approve.
    * When the request carries a CSRF secret (the ``csrftoken`` cookie, or
      the session's with ``CSRF_USE_SESSIONS``), Django's full check runs,
      as for a cookie-based refresh: send ``X-CSRFToken``.
    * Otherwise, when the browser sent an ``Origin`` header, Django's check
      still runs and its origin verification must pass (the request's own
      host, or ``CSRF_TRUSTED_ORIGINS``); only its complaint that there is
      no CSRF cookie is forgiven, since a first login cannot have one.

    Raises DRF's ``PermissionDenied`` (403, code ``csrf_failed``).
    """
    if request.content_type != "application/json":
        raise csrf_failed(
            "in cookie mode, login takes an application/json body only, "
            "which an HTML form on another site cannot send."
        )
    if not _has_csrf_secret(request) and "HTTP_ORIGIN" not in request.META:
        return  # not a browser (every browser names the origin of a POST)
    reason = csrf_failure(request)
    if reason and reason != REASON_NO_CSRF_COOKIE:
        raise csrf_failed(reason)


def csrf_failure(request: HttpRequest) -> str | None:
    """Django's reason for refusing ``request`` under CSRF protection, or None.

    ``CsrfViewMiddleware`` skips DRF's views (they are ``csrf_exempt``), so
    this runs its checks the way DRF's ``SessionAuthentication`` does.
    """

    def no_response(request: HttpRequest) -> None:
        return None

    check = CSRFCheck(no_response)  # type: ignore[arg-type]  # only process_view runs
    check.process_request(request)
    reason = check.process_view(request, None, (), {})  # type: ignore[arg-type]  # no view
    return str(reason) if reason else None


def csrf_failed(reason: str) -> PermissionDenied:
    """The 403 every CSRF refusal answers with."""
    return PermissionDenied(f"CSRF Failed: {reason}", code="csrf_failed")


def _has_csrf_secret(request: HttpRequest) -> bool:
    """Whether the browser holds a CSRF secret for this site (set or not well-formed)."""
    if settings.CSRF_USE_SESSIONS:
        session = getattr(request, "session", None)
        return session is not None and session.get(CSRF_SESSION_KEY) is not None
    return settings.CSRF_COOKIE_NAME in request.COOKIES


def ensure_csrf_cookie(request: HttpRequest) -> None:
    """Make the response set ``csrftoken`` so the app can send it back."""
    get_token(request)
