"""The stable Python API: mint and revoke tokens in code.

Everything here is public and stable: the names, the parameters and what
they return only change with a deprecation period. They are thin wrappers
over :mod:`django_tokenkit.services`, so a token minted or revoked here is
recorded, signalled and cached exactly like one that went through the HTTP
endpoints, the admin or a management command. ``django_tokenkit.issue_tokens``
and the other names are also reachable on the package itself, imported on
first use (the package stays importable without Django for the client).

The replacement of simplejwt's ``RefreshToken.for_user(user)``::

    from django_tokenkit.api import issue_tokens

    pair = issue_tokens(user)
    pair.access, pair.refresh            # the two tokens
    pair.as_response_data()              # the JSON body the login endpoint answers
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from django.contrib.auth.base_user import AbstractBaseUser
from django.http import HttpRequest

from django_tokenkit.models import RevokeReason
from django_tokenkit.services import api_tokens, issue, revocation
from django_tokenkit.services.api_tokens import IssuedAPIToken
from django_tokenkit.services.issue import TokenPair

__all__ = [
    "IssuedAPIToken",
    "TokenPair",
    "create_api_token",
    "issue_tokens",
    "revoke_session",
    "revoke_token",
    "revoke_user",
]


def issue_tokens(user: AbstractBaseUser, request: HttpRequest | None = None) -> TokenPair:
    """Start a new session for ``user`` and return its first pair, as a login does.

    No password is checked: the caller vouches for the user (a sign-up, an
    OAuth callback, a test). ``request``, when given, records the client's IP
    address and user agent on the session. The ``CUSTOM_CLAIMS`` hook runs and
    ``token_obtained`` fires, as for a login. An inactive user's tokens are
    refused on use like any other.

    Raises :class:`~django_tokenkit.exceptions.StoreUnavailable` when the
    database cannot record the session (nothing was recorded).
    """
    return issue.login(user, request)


def revoke_user(
    user: AbstractBaseUser, *, api_tokens: bool = False, reason: str = RevokeReason.COMMAND
) -> int:
    """End every session of ``user`` (and, with ``api_tokens=True``, their API tokens).

    Effective on the next request on every process. Returns how many
    sessions this call ended (already ended ones are skipped, so calling it
    twice is harmless). ``reason`` is recorded and sent with
    ``token_revoked``; one of :class:`~django_tokenkit.models.RevokeReason`.
    """
    if api_tokens:
        return revocation.revoke_users_and_api_tokens([user.pk], reason).sessions
    return revocation.revoke_user(user, reason)


def revoke_session(sid: str, *, reason: str = RevokeReason.COMMAND) -> bool:
    """End the session ``sid`` (a token's ``sid`` claim) and every token of it.

    Returns False when no active session has that id.
    """
    return revocation.revoke_session_id(sid, reason) > 0


def revoke_token(jti: str, *, reason: str = RevokeReason.COMMAND) -> bool:
    """Revoke the one token ``jti`` (an access or refresh token); its session stays usable.

    Returns False when it was already revoked. Raises
    ``django_tokenkit.models.IssuedToken.DoesNotExist`` when tokenkit has no
    record of ``jti`` (an access token renewed by sliding expiration: revoke
    its session instead).
    """
    return revocation.revoke_jti(jti, reason)


def create_api_token(
    user: AbstractBaseUser,
    *,
    name: str,
    expires_in: timedelta | None,
    scopes: Iterable[str] = (),
) -> IssuedAPIToken:
    """Create an API token (``tkp_...``) for ``user``, as ``POST api-tokens/`` does.

    ``expires_in`` is required: a lifetime, or None for a token that never
    expires (refused when ``API_TOKEN_MAX_LIFETIME`` is set). The result's
    ``token`` is the secret, to be shown once: only its digest is stored;
    ``record`` is the :class:`~django_tokenkit.models.APIToken` row. Raises
    ``InvalidAPITokenRequest`` or ``APITokenLimitReached``
    (:mod:`django_tokenkit.services.api_tokens`); nothing is created then.
    """
    return api_tokens.create(user, name=name, expires_in=expires_in, scopes=scopes)
