"""The switch from djangorestframework-simplejwt without a forced re-login.

With ``TOKENKIT["SIMPLEJWT_TRANSITION"]`` on:

- the refresh endpoint accepts a still-valid simplejwt refresh token once,
  verified by simplejwt itself (its ``SIMPLE_JWT`` keys, algorithm and
  lifetimes; refused when its ``token_blacklist`` app lists the token), and
  answers with a tokenkit pair in a new session;
- :class:`~django_tokenkit.authentication.JWTAuthentication` accepts
  simplejwt access tokens until they expire, verified the same way.

"Once" is a row of tokenkit's blacklist named ``simplejwt-<jti>``, inserted
in the transaction that starts the session: of concurrent exchanges of one
token exactly one commits. The token presented again is a reuse, as for a
tokenkit refresh token: the session it started is revoked and the answer is
``token_reused``. simplejwt tokens are told apart by their JOSE ``typ``
header, ``JWT``, where tokenkit's are ``at+jwt`` and ``refresh+jwt``.
"""

from __future__ import annotations

import logging
from datetime import datetime
from datetime import timezone as dt_timezone
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.http import HttpRequest

from django_tokenkit import tokens
from django_tokenkit.exceptions import TokenExpired, TokenInvalid, TokenReused, TokenRevoked
from django_tokenkit.models import BlacklistedToken, RevokeReason, Session, TokenType
from django_tokenkit.services._common import session_uuid
from django_tokenkit.services.issue import TokenPair, login
from django_tokenkit.services.revocation import revoke_sessions

logger = logging.getLogger(__name__)

#: The ``typ`` header PyJWT, and so simplejwt, puts on every token.
SIMPLEJWT_TYP = "JWT"
#: The prefix of the blacklist row that marks a simplejwt token as exchanged.
EXCHANGED_PREFIX = "simplejwt-"


def is_simplejwt_token(raw: str) -> bool:
    """Whether ``raw`` carries simplejwt's ``typ`` header (nothing is verified)."""
    return tokens.unverified_typ(raw) == SIMPLEJWT_TYP


def _verified(raw: str, kind: str) -> Any:
    """simplejwt's own verification of ``raw`` as a ``kind`` ("refresh" or "access") token.

    Without simplejwt installed (``tokenkit.W008`` says so) nothing can be
    verified: ``TokenInvalid``, and the user logs in again.
    """
    try:
        from rest_framework_simplejwt.exceptions import TokenError as SimpleJWTError
        from rest_framework_simplejwt.tokens import AccessToken, RefreshToken
    except ImportError:
        raise TokenInvalid("Token is invalid.") from None

    token_class = RefreshToken if kind == "refresh" else AccessToken
    try:
        return token_class(raw)  # type: ignore[arg-type]  # simplejwt types it as bytes
    except SimpleJWTError as error:
        if "blacklisted" in str(error).lower():
            raise TokenRevoked("Token has been revoked.") from None
        try:
            unverified = token_class(raw, verify=False)  # type: ignore[arg-type]
        except SimpleJWTError:
            raise TokenInvalid("Token is invalid.") from None
        if _expired(unverified):
            raise TokenExpired() from None
        raise TokenInvalid("Token is invalid.") from None


def _expired(token: Any) -> bool:
    exp = token.payload.get("exp")
    return isinstance(exp, int) and exp <= int(datetime.now(tz=dt_timezone.utc).timestamp())


def _user(token: Any) -> AbstractBaseUser:
    """The active user simplejwt's token names, found as simplejwt finds it."""
    from rest_framework_simplejwt.settings import api_settings

    user_id = token.payload.get(api_settings.USER_ID_CLAIM)
    user_model = get_user_model()
    try:
        user: AbstractBaseUser = user_model._default_manager.get(
            **{api_settings.USER_ID_FIELD: user_id}
        )
    except (user_model.DoesNotExist, ValueError, TypeError):
        raise TokenInvalid("Token names no user.") from None
    if not user.is_active:
        raise TokenRevoked("User is inactive.")
    return user


def exchange_refresh(raw: str, request: HttpRequest | None = None) -> TokenPair:
    """A tokenkit pair in a new session for a valid simplejwt refresh token, once.

    Raises ``TokenExpired``, ``TokenInvalid``, ``TokenRevoked`` (simplejwt's
    blacklist lists it, or its user is inactive) or ``TokenReused`` (it was
    exchanged before; the session it started is revoked now).
    """
    token = _verified(raw, "refresh")
    user = _user(token)
    from rest_framework_simplejwt.settings import api_settings

    marker = EXCHANGED_PREFIX + str(token.payload.get(api_settings.JTI_CLAIM, ""))
    if len(marker) > tokens.JTI_MAX_LENGTH or not tokens.is_well_formed_jti(marker):
        raise TokenInvalid("Token has a malformed 'jti' claim.")
    try:
        with transaction.atomic():
            pair = login(user, request)
            BlacklistedToken.objects.create(
                jti=marker,
                token_type=TokenType.REFRESH,
                user=user,
                session_id=session_uuid(pair.access_token.sid),
                expires_at=datetime.fromtimestamp(int(token.payload["exp"]), tz=dt_timezone.utc),
            )
    except IntegrityError:
        _revoke_exchanged_session(marker)
        logger.warning(
            "tokenkit: simplejwt refresh token %s of user %s was presented again after its "
            "exchange; the session it started is revoked.",
            marker,
            user.pk,
        )
        raise TokenReused() from None
    return pair


def _revoke_exchanged_session(marker: str) -> None:
    row = BlacklistedToken.objects.filter(jti=marker).first()
    if row is not None and row.session_id is not None:
        revoke_sessions(Session.objects.filter(pk=row.session_id), RevokeReason.REUSE)


def authenticate_access(raw: str) -> tuple[AbstractBaseUser, Any]:
    """The user and simplejwt token of a valid simplejwt access token.

    simplejwt access tokens cannot be revoked; they stop at their own
    expiry (simplejwt's ``ACCESS_TOKEN_LIFETIME``, 5 minutes by default).
    """
    token = _verified(raw, "access")
    return _user(token), token
