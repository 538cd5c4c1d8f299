"""DRF authentication classes: a read-only hot path.

``JWTAuthentication`` verifies the bearer access token, asks the revocation
store whether it is still good, and loads its user. It writes nothing. A
request whose ``Authorization`` header uses another scheme, or carries an
API token (``tkp_...``), is left to the next authentication class.

Every failure is a 401 with ``{"detail", "code"}`` and a
``WWW-Authenticate`` challenge (RFC 6750 section 3): ``error="invalid_token"``
is added only when a token was actually presented. A database that cannot
answer is a 503 ``service_unavailable`` on every view (see
:func:`authentication_errors`); an unreachable cache is no failure at all,
the database answers instead.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import DatabaseError
from django.utils import timezone
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from django_tokenkit import (
    api_token_format,
    api_token_store,
    dberrors,
    lease,
    outbox,
    revocation,
    tokens,
    users,
    verifying,
)
from django_tokenkit.conf import tokenkit_settings
from django_tokenkit.exceptions import (
    AuthenticationError,
    ServiceUnavailable,
    TokenError,
    TokenExpired,
    TokenInvalid,
    TokenRevoked,
    to_api_exception,
)
from django_tokenkit.services import api_tokens, transition
from django_tokenkit.tokens import Token

logger = logging.getLogger(__name__)

API_TOKEN_PREFIX = api_token_format.PREFIX

#: Where the failure of this request's authentication is kept for the challenge.
AUTH_ERROR_ATTRIBUTE = "_tokenkit_auth_error"


def bearer_challenge(request: Request | Any) -> str:
    """The ``WWW-Authenticate`` value for a 401 on ``request``."""
    realm = _quoted(tokenkit_settings.www_authenticate_realm)
    challenge = f'Bearer realm="{realm}"'
    error = getattr(request, AUTH_ERROR_ATTRIBUTE, None)
    if isinstance(error, AuthenticationError) and error.token_presented:
        challenge += f', error="invalid_token", error_description="{_quoted(error.message)}"'
    return challenge


def _quoted(value: str) -> str:
    """Make ``value`` safe inside an RFC 7230 quoted-string without escapes."""
    return "".join(ch for ch in value if ch.isprintable() and ch not in '"\\')


def remember_auth_error(request: Request | Any, error: AuthenticationError) -> None:
    """Keep ``error`` on the request so the 401's challenge can describe it."""
    setattr(request, AUTH_ERROR_ATTRIBUTE, error)


def credentials_from_header(header: str) -> str | None:
    """The credentials of an ``Authorization`` header of one of our schemes.

    Returns None for a header of another scheme (someone else's to judge).
    Raises ``TokenInvalid`` for our scheme with no credentials or with more
    than one.
    """
    scheme, _, rest = header.strip().partition(" ")
    accepted = {header_type.lower() for header_type in tokenkit_settings.auth_header_types}
    if scheme.lower() not in accepted:
        return None
    parts = rest.split()
    if not parts:
        raise TokenInvalid("Authorization header has no credentials.")
    if len(parts) > 1:
        raise TokenInvalid("Authorization header must not contain spaces in the credentials.")
    return parts[0]


@contextmanager
def authentication_errors(request: Request | Any, scheme: str) -> Iterator[None]:
    """Translate what can go wrong while authenticating into the SPEC's answers.

    Every authentication class runs its checks inside this block:

    - a ``TokenError`` becomes the 401 with its code, remembered on the
      request for the ``WWW-Authenticate`` challenge;
    - a ``DatabaseError`` (the session state or the user could not be read:
      the database refuses connections, a lock wait timed out, ...) becomes
      :class:`ServiceUnavailable`, a 503 with ``code: service_unavailable``
      that renders the same under DRF's default exception handler, and is
      logged once here with its traceback. Never a 401: the token may well
      be good, and the client should retry rather than log in again.

    Cache failures never get here: the revocation store and the user cache
    fall back to the database on their own. ``scheme`` names the class in
    the log; the token itself is never logged.
    """
    try:
        yield
    except TokenError as error:
        api_error = to_api_exception(error)
        remember_auth_error(request, api_error)
        raise api_error from None
    except DatabaseError as error:
        logger.exception(
            "tokenkit could not authenticate a %s request: the database failed", scheme
        )
        raise dberrors.unavailable(error, logger) from error


#: Keeps what a request resolved in the lease's memory (``lease.remember`` bound
#: to this process's state and the generation read before the fetch).
Keep = Callable[..., None]


def _recall_or_fetch(
    keys: list[str], *, may_recall: bool
) -> tuple[dict[str, Any] | None, Keep | None]:
    """``keys`` from the lease's memory, else from the shared cache (None: unreachable).

    The second value keeps what the caller resolves from a fetch; it is None
    when the answer came from memory or the lease is off (or lapsed, or
    ``may_recall`` is false), when nothing may be kept.
    """
    local = lease.local_state() if may_recall else None
    if local is not None:
        found = lease.recall(local, keys)
        if found is not None:
            return found, None
        generation = local.begin()
        if generation is not None:
            return revocation.fetch(keys), partial(lease.remember, local, generation)
    return revocation.fetch(keys), None


def _active_user(token: Token) -> AbstractBaseUser:
    """The user of ``token`` once its revocation state says it is good.

    One cache round trip answers both questions in the steady state; with
    the revocation lease on, a session this process has already resolved is
    answered from memory (see :mod:`django_tokenkit.lease`).
    """
    sid_key, jti_key = revocation.lookup_keys(token)
    user_key = users.user_key(users.coerce_pk(token.sub))
    found, keep = _recall_or_fetch([sid_key, jti_key, user_key], may_recall=True)
    state = revocation.unrevoked_session_state(token, found)
    if state is None:
        raise TokenRevoked()
    user = users.user_for_token(token, found)
    if keep is not None:
        keep({sid_key: state, jti_key: lease.ABSENT}, user=(user_key, user))
    return user


class JWTAuthentication(BaseAuthentication):
    """Authenticate ``Authorization: Bearer <access token>``.

    ``request.auth`` is the verified :class:`~django_tokenkit.tokens.Token`.
    """

    def authenticate(self, request: Request) -> tuple[AbstractBaseUser, Token] | None:
        header = request.META.get("HTTP_AUTHORIZATION")
        if not header:
            return None
        with authentication_errors(request, "JWT"):
            raw = credentials_from_header(header)
            if raw is None or raw.startswith(API_TOKEN_PREFIX):
                return None
            if tokenkit_settings.simplejwt_transition and transition.is_simplejwt_token(raw):
                # request.auth is then simplejwt's AccessToken, which the sliding
                # middleware leaves alone: such tokens end at their own expiry.
                return transition.authenticate_access(raw)
            token = tokens.decode(raw, tokens.ACCESS)
            user = _active_user(token)
        return user, token

    def authenticate_header(self, request: Request) -> str:
        return bearer_challenge(request)


#: Schemes an API token may come under besides ``AUTH_HEADER_TYPES`` (knox's and DRF's).
API_TOKEN_EXTRA_SCHEMES = ("Token",)


def api_token_from_header(header: str) -> str | None:
    """The API token of an ``Authorization`` header, or None when it carries none.

    ``Bearer tkp_...`` (any of ``AUTH_HEADER_TYPES``) and ``Token tkp_...``
    are accepted; anything else is left to other authentication classes.
    """
    scheme, _, rest = header.strip().partition(" ")
    accepted = {kind.lower() for kind in tokenkit_settings.auth_header_types}
    accepted.update(kind.lower() for kind in API_TOKEN_EXTRA_SCHEMES)
    parts = rest.split()
    if scheme.lower() not in accepted or len(parts) != 1:
        return None
    return parts[0] if api_token_format.looks_like_api_token(parts[0]) else None


def _api_token_user(raw: str) -> tuple[AbstractBaseUser, api_token_store.APITokenState]:
    """The user and state of API token ``raw``, once it is known to be usable.

    The checksum is checked before any I/O, so a mistyped or invented token
    costs nothing. Then one ``get_many`` fetches the token's state and, once
    this process knows the token's owner, the owner's cached copy; with the
    revocation lease on, a token this process has resolved is answered from
    memory, as a session is (every change of a token's state is announced by
    :func:`django_tokenkit.revocation.publish`).
    """
    if not api_token_format.is_well_formed(raw):
        raise TokenInvalid("Malformed API token.")
    digest = api_token_format.digest(raw)
    state_key = api_token_store.state_key(digest)
    owner = api_token_store.remembered_owner(digest)
    keys = [state_key] if owner is None else [state_key, users.user_key(owner)]
    # Only once the owner is known: what is remembered is the state and the user.
    found, keep = _recall_or_fetch(keys, may_recall=owner is not None)
    unpublished = outbox.pending(cache_answered=found is not None, publish=revocation.publish)
    cached = None
    if found is not None and not unpublished.distrusts_api_token(digest):
        cached = found.get(state_key)
    if not api_token_store.is_cached_value(cached):
        cached = api_token_store.load(digest)
        if found is not None:
            api_token_store.fill(digest, cached)
    state = api_token_store.decode(cached)
    if state is None:
        raise TokenInvalid("Unknown API token.")
    if state.revoked:
        raise TokenRevoked("API token has been revoked.")
    if state.expires_at is not None and timezone.now() >= state.expires_at:
        moment = state.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ")
        if state.rotated:
            raise TokenExpired(
                f"API token was replaced by rotation and stopped working at {moment}."
            )
        raise TokenExpired(f"API token expired at {moment}.")
    user = users.user_for_pk(state.user_id, found)
    api_token_store.remember_owner(digest, state.user_id)
    if keep is not None and state.user_id == owner:
        keep({state_key: cached}, user=(users.user_key(owner), user))
    return user, state


class APITokenAuthentication(BaseAuthentication):
    """Authenticate ``Authorization: Bearer tkp_...`` (or ``Token tkp_...``).

    ``request.auth`` is an :class:`~django_tokenkit.api_token_store.APITokenCredential`
    (id, name, scopes, expiry; never the token). A token that has not been
    used for ``API_TOKEN_LAST_USED_INTERVAL`` has its last use recorded.
    """

    def authenticate(
        self, request: Request
    ) -> tuple[AbstractBaseUser, api_token_store.APITokenCredential] | None:
        header = request.META.get("HTTP_AUTHORIZATION")
        if not header:
            return None
        with authentication_errors(request, "API token"):
            raw = api_token_from_header(header)
            if raw is None:
                return None
            user, state = _api_token_user(raw)
        credential = state.credential()
        api_tokens.record_use(credential, request._request)
        return user, credential

    def authenticate_header(self, request: Request) -> str:
        return bearer_challenge(request)


# --- the same rules, for doors that are handed a token rather than a request -----


def user_for_verified_token(token: Token) -> AbstractBaseUser:
    """The user of ``token`` (already verified) when it is usable now.

    The check ``JWTAuthentication`` makes after verifying the signature, for
    doors that hold a token to judge rather than a request (RFC 7662
    introspection). Raises ``TokenRevoked`` when the token, its session or
    its user was revoked (an inactive or deleted user included),
    ``TokenInvalid`` for a ``sub`` that cannot be a user's key.
    """
    return _active_user(token)


def api_token_holder(raw: str) -> tuple[AbstractBaseUser, api_token_store.APITokenState]:
    """The user and state of API token ``raw`` when it is usable now.

    The check ``APITokenAuthentication`` makes (without recording a use).
    Raises ``TokenInvalid`` (malformed, unknown), ``TokenRevoked`` or
    ``TokenExpired``.
    """
    return _api_token_user(raw)


class JWKSAuthentication(BaseAuthentication):
    """Authenticate an access token another service issued, with its published keys.

    For a verifying service: ``TOKENKIT['JWKS_URL']`` names the issuer's
    ``.well-known/jwks.json``, and ``ISSUER`` / ``AUDIENCE`` (when set) must
    match the token's ``iss`` / ``aud`` exactly. The token's ``typ``,
    ``token_type`` and every claim are checked as on the issuer. With
    ``JWKS_CHECK_REVOCATION`` on, the shared cache (the issuer's Redis)
    is asked whether the token or its session is revoked; an unreachable
    cache is then a 503. ``request.user`` is a
    :class:`~django_tokenkit.verifying.TokenUser` unless :meth:`get_user`
    is overridden; ``request.auth`` the verified
    :class:`~django_tokenkit.tokens.Token`.
    """

    def authenticate(self, request: Request) -> tuple[Any, Token] | None:
        header = request.META.get("HTTP_AUTHORIZATION")
        if not header:
            return None
        with authentication_errors(request, "JWKS"):
            raw = credentials_from_header(header)
            if raw is None or raw.startswith(API_TOKEN_PREFIX):
                return None
            resolver = verifying.get_client().keys_for
            token = tokens.decode(raw, tokens.ACCESS, resolver=resolver)
            if tokenkit_settings.jwks_check_revocation:
                found = revocation.fetch(revocation.lookup_keys(token))
                if found is None:
                    raise ServiceUnavailable("The revocation cache cannot be reached.")
                if revocation.revoked_in_cache(token, found):
                    raise TokenRevoked()
        return self.get_user(token), token

    def get_user(self, token: Token) -> Any:
        """``request.user`` for ``token``: a :class:`~django_tokenkit.verifying.TokenUser`."""
        return verifying.TokenUser(token)

    def authenticate_header(self, request: Request) -> str:
        return bearer_challenge(request)
