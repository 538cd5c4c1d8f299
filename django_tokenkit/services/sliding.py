"""Sliding renewal: an access token near its expiry is renewed in passing.

The read-mostly path of the package: :class:`~django_tokenkit.middleware.SlidingTokenMiddleware`
imports this module alone, and it imports none of the other lifecycles.
Deciding costs no I/O (:func:`needs_renewal`); a renewal costs one cache
``add`` (or ``get``) and, once per old token, a write of the session's last
use and the ``token_reissued`` signal.
"""

from __future__ import annotations

from datetime import datetime
from datetime import timezone as dt_timezone
from typing import Any

from django.utils import timezone

from django_tokenkit import signals, tokens, users
from django_tokenkit.cache import cache_key, get_cache, warn_cache_unavailable
from django_tokenkit.claims import carried
from django_tokenkit.conf import tokenkit_settings
from django_tokenkit.models import Session
from django_tokenkit.services._common import session_uuid
from django_tokenkit.tokens import Token


def sliding_key(jti: str) -> str:
    """Cache key holding the claims of the one renewal of access token ``jti``."""
    return cache_key("slide", jti)


def needs_renewal(token: Token, now: datetime) -> bool:
    """True when ``token`` has at most ``SLIDING_THRESHOLD`` left. No I/O."""
    return (
        token.token_type == tokens.ACCESS
        and token.lifetime_left(now) <= tokenkit_settings.sliding_threshold
    )


def renew_access_token(token: Token, now: datetime | None = None) -> tuple[str, Token] | None:
    """The renewed form of a verified access token near its expiry, or None.

    A renewal keeps ``sub``, ``sid`` and ``auth_time``, takes a new ``jti``
    and never outlives the session's cap (``auth_time`` +
    ``SESSION_MAX_LIFETIME``). Every caller presenting the same old token, in
    any process, gets the same new token: the first to ``add`` its proposed
    claims under the old ``jti`` wins and the others sign the winner's
    claims, so every caller gets the same header and claims (``jti``
    included). With HMAC, RS256 and EdDSA the strings are identical too; with
    ES256 the signature differs per signing (a random nonce), and the tokens
    are interchangeable: one ``jti``, one renewal. The cache holds only
    claims, never a token. The winner alone fires ``token_reissued`` and records the
    session's last use, so a session's ``last_used_at`` moves once per
    renewal rather than on every request.

    Returns None when there is nothing to extend (the cap is reached) or the
    cache is unreachable (the client then refreshes as usual).
    """
    moment = now or timezone.now()
    if not needs_renewal(token, moment):
        return None
    cap = token.auth_time + tokenkit_settings.session_max_lifetime
    expires_at = min(moment + tokenkit_settings.access_token_lifetime, cap)
    if int(expires_at.timestamp()) <= int(token.expires_at.timestamp()):
        return None
    proposal = {
        "jti": tokens.new_jti(),
        "iat": int(moment.timestamp()),
        "exp": int(expires_at.timestamp()),
    }
    key = sliding_key(token.jti)
    # Kept until the old token is dead: until then it may be presented again.
    timeout = max(
        int((token.expires_at - moment + tokenkit_settings.leeway).total_seconds()) + 1, 1
    )
    try:
        cache = get_cache()
        won = cache.add(key, proposal, timeout=timeout)
        claims = proposal if won else cache.get(key)
    except Exception as error:  # the cache backend's connection error
        warn_cache_unavailable("sliding renewal", error)
        return None
    if not isinstance(claims, dict):
        return None  # evicted between add and get; the next request renews
    raw, renewed = tokens.encode(
        tokens.ACCESS,
        sub=token.sub,
        sid=token.sid,
        auth_time=token.auth_time,
        expires_at=_from_timestamp(claims["exp"]),
        now=_from_timestamp(claims["iat"]),
        jti=str(claims["jti"]),
        # The session's custom claims, carried: every renewal of this token agrees.
        extra=carried(token.claims),
    )
    if won:
        session_id = session_uuid(token.sid)
        if session_id is not None:
            Session.objects.filter(pk=session_id).update(last_used_at=moment)
        signals.token_reissued.send(
            sender=Session,
            user_id=users.coerce_pk(token.sub),
            sid=token.sid,
            jti=renewed.jti,
            old_jti=token.jti,
        )
    return raw, renewed


def _from_timestamp(value: Any) -> datetime:
    return datetime.fromtimestamp(int(value), tz=dt_timezone.utc)
