"""Errors: the domain errors and the DRF exceptions they map to.

Domain code (tokens, services, revocation) raises :class:`TokenError`
subclasses, or :class:`StoreUnavailable`, which know nothing of HTTP. The
authentication classes, views and middleware translate them (with
:func:`to_api_exception` and into :class:`ServiceUnavailable`), so every door
into the package answers a given failure with the same status and the same
stable ``code`` from SPEC section 5. Clients branch on ``code``, never on
``detail`` text.
"""

from __future__ import annotations

from typing import ClassVar

from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, status
from rest_framework.exceptions import APIException


class TokenError(Exception):
    """A token could not be used. ``code`` is the SPEC's error code."""

    code: ClassVar[str] = "token_invalid"
    default_detail: ClassVar[str] = "Token is invalid."

    def __init__(self, detail: str | None = None) -> None:
        self.detail = detail or self.default_detail
        super().__init__(self.detail)


class TokenInvalid(TokenError):
    """Malformed, badly signed, wrong algorithm, type, issuer, audience or key."""

    code = "token_invalid"
    default_detail = "Token is invalid."


class TokenExpired(TokenError):
    """Past ``exp`` (beyond the leeway) or past the session's cap: refresh and retry."""

    code = "token_expired"
    default_detail = "Token has expired."


class TokenRevoked(TokenError):
    """The token, its session or its user was revoked: log in again."""

    code = "token_revoked"
    default_detail = "Token has been revoked."


class TokenReused(TokenError):
    """A retired refresh token came back after its grace period."""

    code = "token_reused"
    default_detail = "Refresh token was already used; the session has been revoked."


class StoreUnavailable(Exception):
    """The database could not complete an operation; nothing was half-done.

    A domain error, not a :class:`TokenError`: the token may be fine, and
    the same call may succeed when tried again. The services raise it (with
    the database's error as its cause, already logged); the HTTP doors answer
    it with :class:`ServiceUnavailable`.
    """


class ServiceUnavailable(APIException):
    """The 503 for :class:`StoreUnavailable` and other database failures.

    The body is ``{"detail": ..., "code": "service_unavailable"}`` whichever
    exception handler renders it: like :class:`AuthenticationError`, the
    code travels inside ``detail``, which DRF renders as it is, so a view of
    the application that keeps DRF's default handler answers the same 503.
    """

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = _("Service temporarily unavailable, try again.")
    default_code = "service_unavailable"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(
            {"detail": detail or self.default_detail, "code": self.default_code},
            self.default_code,
        )


class AuthenticationError(exceptions.AuthenticationFailed):
    """A 401 whose body is ``{"detail": ..., "code": ...}``.

    DRF renders a dict ``detail`` as the response body as it is, which gives
    the SPEC's shape without requiring a custom exception handler.
    ``token_presented`` decides whether ``WWW-Authenticate`` carries
    ``error="invalid_token"`` (RFC 6750 section 3.1).
    """

    def __init__(self, detail: str, code: str, *, token_presented: bool = True) -> None:
        super().__init__({"detail": detail, "code": code})
        self.code = code
        self.message = detail
        self.token_presented = token_presented


class InvalidCredentials(AuthenticationError):
    """Wrong username or password, or an inactive user (never said which)."""

    def __init__(self) -> None:
        super().__init__(
            "No active account found with the given credentials.",
            "invalid_credentials",
            token_presented=False,
        )


def to_api_exception(error: TokenError) -> AuthenticationError:
    """Translate a domain error into the 401 the SPEC prescribes."""
    return AuthenticationError(error.detail, error.code)


class BadRequest(exceptions.ParseError):
    """A 400 with the ``{"detail", "code"}`` body."""

    def __init__(self, detail: str, code: str) -> None:
        super().__init__({"detail": detail, "code": code})
        self.code = code


class Conflict(APIException):
    """A 409 with the ``{"detail", "code"}`` body (``api_token_limit``)."""

    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"

    def __init__(self, detail: str, code: str) -> None:
        super().__init__({"detail": detail, "code": code}, code)
        self.code = code
