"""Issuing: a login starts a session and its first pair; the encoders refresh shares.

A pair is an access token and the refresh token it was minted with, recorded
on one :class:`~django_tokenkit.models.IssuedToken` row (the refresh token's
``jti``, the access token's ``access_jti`` and both expiries). What is
recorded is enough to sign the pair again with the same header and claims
(:func:`replay_pair`), which is how a refresh retried within the grace
period gets the answer the first one got. Never the raw tokens: a database
dump must not hold usable refresh tokens.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import DatabaseError, transaction
from django.http import HttpRequest
from django.utils import timezone

from django_tokenkit import claims, revocation, signals, tokens
from django_tokenkit.conf import tokenkit_settings
from django_tokenkit.exceptions import StoreUnavailable
from django_tokenkit.models import IssuedToken, Session
from django_tokenkit.tokens import Token

logger = logging.getLogger(__name__)

USER_AGENT_MAX_LENGTH = 512


@dataclass(frozen=True)
class TokenPair:
    """An access token and, when one was issued or kept, a refresh token."""

    access: str
    access_token: Token
    refresh: str
    refresh_token: Token

    def as_response_data(self) -> dict[str, Any]:
        """The pair as SPEC section 5 shapes it.

        ``expires_in`` is each token's lifetime as issued (``exp - iat``, the
        RFC 6749 section 5.1 meaning), not the time left now, so a pair
        replayed within the grace period carries the same numbers.
        """
        return {
            "access": self.access,
            "refresh": self.refresh,
            "token_type": "Bearer",
            "expires_in": _lifetime(self.access_token),
            "refresh_expires_in": _lifetime(self.refresh_token),
        }


def _lifetime(token: Token) -> int:
    return max(int(token.claims["exp"]) - int(token.claims["iat"]), 0)


def client_details(request: HttpRequest | None) -> tuple[str | None, str]:
    """The client's IP address and user agent as recorded on its session.

    ``REMOTE_ADDR`` is trusted as it is: behind a proxy, set it from the
    proxy's header in your own middleware (the docs show how), because only
    you know which proxy to believe.
    """
    if request is None:
        return None, ""
    ip = request.META.get("REMOTE_ADDR") or None
    if ip is not None:
        try:
            ip = str(ipaddress.ip_address(ip))
        except ValueError:
            ip = None
    user_agent = str(request.META.get("HTTP_USER_AGENT", ""))[:USER_AGENT_MAX_LENGTH]
    return ip, user_agent


def _encode(
    token_type: tokens.TokenType,
    session: Session,
    *,
    expires_at: datetime,
    now: datetime,
    jti: str | None = None,
    extra: Mapping[str, Any],
) -> tuple[str, Token]:
    """A token of ``session`` with the claims every token of it carries.

    ``extra`` is the session's custom claims: computed once at login, then
    carried from token to token (see :mod:`django_tokenkit.claims`).
    """
    return tokens.encode(
        token_type,
        sub=str(session.user_id),
        sid=session.sid,
        auth_time=session.auth_time,
        expires_at=expires_at,
        now=now,
        jti=jti,
        extra=extra,
    )


def encode_access(session: Session, now: datetime, extra: Mapping[str, Any]) -> tuple[str, Token]:
    """A new access token of ``session``, never outliving the session's cap."""
    expires_at = min(now + tokenkit_settings.access_token_lifetime, session.expires_at)
    return _encode(tokens.ACCESS, session, expires_at=expires_at, now=now, extra=extra)


def encode_refresh(record: IssuedToken, extra: Mapping[str, Any]) -> tuple[str, Token]:
    """The refresh token ``record`` describes, signed from its recorded claims."""
    return _encode(
        tokens.REFRESH,
        record.session,
        expires_at=record.expires_at,
        now=record.issued_at,
        jti=record.jti,
        extra=extra,
    )


def issue_pair(
    session: Session,
    *,
    now: datetime,
    refresh_jti: str,
    refresh_expires_at: datetime,
    extra: Mapping[str, Any],
) -> tuple[str, Token, str, Token, IssuedToken]:
    """A new pair of ``session`` and its unsaved record; the caller saves it."""
    access, access_token = encode_access(session, now, extra)
    record = IssuedToken(
        jti=refresh_jti,
        session=session,
        issued_at=now,
        expires_at=refresh_expires_at,
        access_jti=access_token.jti,
        access_expires_at=access_token.expires_at,
    )
    refresh, refresh_token = encode_refresh(record, extra)
    return access, access_token, refresh, refresh_token, record


def replay_pair(record: IssuedToken, extra: Mapping[str, Any]) -> TokenPair:
    """Sign a recorded pair again: the same header and claims, ``jti`` included.

    That is the guarantee of a grace-period replay (docs/keys.rst, "What a
    replay returns"). With HMAC, RS256 (PKCS#1 v1.5) and EdDSA signatures
    are deterministic, so the bytes match as well; ES256 draws a random
    nonce per signature, so the strings differ while every claim a server
    checks, and every field of the response body but the two token
    strings, is the same. Both tokens are valid and interchangeable.

    ``extra`` is the session's custom claims, the same on every token of it.
    """
    assert record.access_expires_at is not None
    access, access_token = _encode(
        tokens.ACCESS,
        record.session,
        expires_at=record.access_expires_at,
        now=record.issued_at,
        jti=record.access_jti,
        extra=extra,
    )
    refresh, refresh_token = encode_refresh(record, extra)
    return TokenPair(access, access_token, refresh, refresh_token)


def login(user: AbstractBaseUser, request: HttpRequest | None = None) -> TokenPair:
    """Start a new session for ``user`` and issue its first pair.

    The caller has already authenticated the user. The ``CUSTOM_CLAIMS``
    hook, when configured, is called here, once per session. Raises
    :class:`~django_tokenkit.exceptions.StoreUnavailable` when the database
    cannot record the session, in which case nothing was recorded, and
    ``ImproperlyConfigured`` when the hook's claims cannot go into a token.
    """
    now = timezone.now()
    extra = claims.for_user(user)
    ip, user_agent = client_details(request)
    try:
        with transaction.atomic():
            session = Session.objects.create(
                user=user,
                auth_time=now,
                created_at=now,
                expires_at=now + tokenkit_settings.session_max_lifetime,
                last_used_at=now,
                ip_address=ip,
                user_agent=user_agent,
            )
            refresh_expires_at = min(
                now + tokenkit_settings.refresh_token_lifetime, session.expires_at
            )
            access, access_token, refresh, refresh_token, record = issue_pair(
                session,
                now=now,
                refresh_jti=tokens.new_jti(),
                refresh_expires_at=refresh_expires_at,
                extra=extra,
            )
            record.save(force_insert=True)
            sid = str(session.pk)
            transaction.on_commit(lambda: revocation.note_new_session(sid))
    except DatabaseError as error:
        logger.exception("tokenkit could not record a login for user %s", user.pk)
        raise StoreUnavailable() from error
    signals.token_obtained.send(sender=Session, user=user, session=session, request=request)
    return TokenPair(access, access_token, refresh, refresh_token)
