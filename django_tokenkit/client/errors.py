"""What the client raises, and what each exception asks the caller to do.

None of these carries a token: messages name the error ``code`` the server
sent (SPEC section 5) and, for API tokens, the token's hint (``tkp_`` and its
last four characters) so a log line says which credential to replace.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class TokenkitClientError(Exception):
    """Base class of every error the client raises on purpose."""


class MissingDependency(ImportError, TokenkitClientError):
    """An optional package the client needs is not installed; the message names the extra."""


class SessionEnded(TokenkitClientError):
    """The session is over for good: log in again (:meth:`TokenkitAuth.login`).

    Raised once the server says the session was revoked (``token_revoked``),
    a retired refresh token came back (``token_reused``, the server has then
    revoked the whole session), the refresh token expired or the session
    reached its cap (``token_expired`` on refresh), or the refresh token is
    not valid (``token_invalid`` on refresh). From then on every request
    through the same :class:`TokenkitAuth` raises it again at once, without
    touching the network, until :meth:`TokenkitAuth.login` is called: the
    client never logs in again by itself, because that would undo a
    revocation.
    """

    def __init__(self, code: str, detail: str = "") -> None:
        self.code = code
        self.detail = detail
        message = f"the tokenkit session has ended ({code})"
        if detail:
            message += f": {detail}"
        super().__init__(message + "; log in again")


class LoginFailed(TokenkitClientError):
    """``POST token/`` refused the credentials (``invalid_credentials``) or the request.

    Not retried: a wrong password does not become right by trying again, and
    retrying would spend the login throttle.
    """

    def __init__(self, code: str, detail: str = "", status: int = 401) -> None:
        self.code = code
        self.detail = detail
        self.status = status
        super().__init__(f"login failed ({status} {code}){': ' + detail if detail else ''}")


class NotLoggedIn(TokenkitClientError):
    """There is no session to use and no credentials to start one with.

    Give ``username`` and ``password``, call :meth:`TokenkitAuth.set_tokens`
    with a pair obtained elsewhere, or use a store that holds a session.
    """


class ServerUnavailable(TokenkitClientError):
    """The auth server kept failing (network errors, 5xx, 429) for longer than the budget.

    A passing failure: the session is not ended, and the next call tries
    again. ``retry_after`` is the server's last ``Retry-After`` in seconds,
    when it sent one.
    """

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class UnexpectedResponse(TokenkitClientError):
    """The auth server answered something the client cannot act on (a 404: check ``auth_url``)."""

    def __init__(self, status: int, detail: str = "") -> None:
        self.status = status
        super().__init__(
            f"unexpected {status} from the tokenkit auth server{': ' + detail if detail else ''}"
        )


class APITokenError(TokenkitClientError):
    """An API token was refused; the message says what to do. ``code`` is the server's."""

    code = "token_invalid"

    def __init__(self, hint: str, detail: str = "") -> None:
        self.hint = hint
        self.detail = detail
        super().__init__(self.advice(hint) + (f" (server: {detail})" if detail else ""))

    @staticmethod
    def advice(hint: str) -> str:
        return f"API token {hint} is not valid: check that the whole token was copied"


class APITokenExpired(APITokenError):
    """The API token is past its expiry: create or rotate a token and deploy the new one."""

    code = "token_expired"

    @staticmethod
    def advice(hint: str) -> str:
        return (
            f"API token {hint} has expired: create a new one (POST api-tokens/, or rotate "
            "it before expiry with POST api-tokens/<id>/rotate/) and configure the job with it"
        )


class APITokenRevoked(APITokenError):
    """The API token was revoked: its owner or an admin must issue a new one."""

    code = "token_revoked"

    @staticmethod
    def advice(hint: str) -> str:
        return (
            f"API token {hint} has been revoked: ask its owner or an administrator for a "
            "new token (POST api-tokens/) and configure the job with it"
        )


def error_of(parse: Callable[[], Any]) -> tuple[str, str]:
    """``code`` and ``detail`` of a tokenkit JSON error body, or empty strings."""
    try:
        body = parse()
    except ValueError:
        return "", ""
    if not isinstance(body, dict):
        return "", ""
    code, detail = body.get("code"), body.get("detail")
    return (code if isinstance(code, str) else ""), (detail if isinstance(detail, str) else "")
