"""The revocation store: the database decides, the shared cache answers fast.

Per request the only question is "is this access token's session revoked, or
this token's ``jti``?". It is answered with one ``get_many`` of two keys:

- ``<prefix>:sid:<sid>`` holds the session's state: ``"r"`` (revoked) or
  ``"a"`` followed by the ids of any single tokens of the session that were
  revoked (usually none), e.g. ``"a"`` or ``"a:jti1,jti2"``;
- ``<prefix>:jti:<jti>`` holds ``"r"`` once that single token is revoked.

A missing session key is a cache miss, never "valid": the state is read from
the database and written back with ``add``, which cannot overwrite a
revocation written meanwhile. Revocations are monotonic (a revoked session
never comes back), so writers use ``set`` and readers ``add`` and a slow
reader can never undo a revocation. Losing the cache (a Redis restart) only
costs one query per session on its next request.

When the cache is unreachable every call falls back to the database and a
warning is logged at most once a minute per process; no request fails
because of the cache.

A partition is not a loss: when it heals, the cache still holds the "active"
it held before, for sessions revoked meanwhile. Every revocation therefore
also writes an outbox row in its own transaction, deleted once its markers
are in the cache; :mod:`django_tokenkit.outbox` makes every process refuse
what the outbox lists until it has been published.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db import DatabaseError
from django.utils import timezone

from django_tokenkit import api_token_store, lease, outbox
from django_tokenkit.cache import cache_key, get_cache, warn_cache_unavailable
from django_tokenkit.conf import tokenkit_settings
from django_tokenkit.models import BlacklistedToken, PendingRevocation, Session
from django_tokenkit.tokens import Token

logger = logging.getLogger(__name__)

REVOKED = "r"
ACTIVE = "a"
#: How long an "active" state may be served from the cache before it is read
#: again. Revocations overwrite it at once, and one whose cache write failed
#: is refused through the outbox; this bounds what changes that bypass
#: tokenkit (raw SQL on its tables) leave behind.
ACTIVE_STATE_TIMEOUT = 300
#: A floor for how long a "revoked" marker is kept, in seconds.
MIN_REVOKED_TIMEOUT = 60


def session_key(sid: str) -> str:
    return cache_key("sid", sid)


def token_key(jti: str) -> str:
    return cache_key("jti", jti)


def lookup_keys(token: Token) -> list[str]:
    """The cache keys :func:`is_revoked` reads for ``token``."""
    return [session_key(token.sid), token_key(token.jti)]


def fetch(keys: list[str]) -> dict[str, Any] | None:
    """``get_many`` on the shared cache; None when the cache is unreachable."""
    try:
        found: dict[str, Any] = get_cache().get_many(keys)
    except Exception as error:  # any backend's connection error; see module docstring
        warn_cache_unavailable("cache read", error)
        return None
    return found


def is_revoked(token: Token, found: dict[str, Any] | None = None) -> bool:
    """True when ``token`` or its session has been revoked.

    Revoking a user revokes each of their sessions, so that is covered too.

    ``found`` is the result of a :func:`fetch` that included
    :func:`lookup_keys` (so callers can batch other keys into the same round
    trip); without it the keys are fetched here. Steady state: one cache
    round trip, no query. On a miss: two queries (the session, then its
    revoked token ids) and one cache write.
    """
    return unrevoked_session_state(token, found) is None


def revoked_in_cache(token: Token, found: dict[str, Any]) -> bool:
    """What the shared cache alone says of ``token``: True when it holds a revocation.

    For a verifying service (:class:`~django_tokenkit.authentication.JWKSAuthentication`)
    that shares the issuer's cache but not its database: a missing entry is
    not a revocation, because there is no database to ask. See
    docs/verifying-services.rst for what that costs.
    """
    if found.get(token_key(token.jti)) == REVOKED:
        return True
    state = found.get(session_key(token.sid))
    return isinstance(state, str) and _state_revokes(state, token.jti)


def unrevoked_session_state(token: Token, found: dict[str, Any] | None = None) -> str | None:
    """The state of ``token``'s session when ``token`` is not revoked, else None.

    The state (``"a"`` or ``"a:jti1,..."``) is what the revocation lease
    remembers for the session; see :func:`is_revoked` for ``found``.
    """
    if found is None:
        found = fetch(lookup_keys(token))
    unpublished = outbox.pending(cache_answered=found is not None, publish=publish)
    if unpublished.revokes(token.sid, token.jti):
        return None
    if found is None:
        state = _load_session_state(token.sid)
        return None if _state_revokes(state, token.jti) else state
    sid_key, jti_key = session_key(token.sid), token_key(token.jti)
    if found.get(jti_key) == REVOKED:
        return None
    cached = found.get(sid_key)
    if cached == REVOKED or (isinstance(cached, str) and unpublished.trusts_cache):
        state = cached
    else:
        state = _load_session_state(token.sid)
        _cache_add(sid_key, state, ACTIVE_STATE_TIMEOUT if state != REVOKED else None)
    return None if _state_revokes(state, token.jti) else state


def note_new_session(sid: str) -> None:
    """Put a session that has just committed in the shared cache as active.

    Its first request then finds its state in the cache instead of reading
    the session row and its revoked token ids: a login costs the requests
    after it no query. ``add``: a revocation that got there first stays.
    Call once the session's row is committed, never before (a rolled-back
    session must not be vouched for).
    """
    _cache_add(session_key(sid), ACTIVE, ACTIVE_STATE_TIMEOUT)


def _state_revokes(state: str, jti: str) -> bool:
    if state == REVOKED:
        return True
    _, _, revoked_ids = state.partition(":")
    return bool(revoked_ids) and jti in revoked_ids.split(",")


def _load_session_state(sid: str) -> str:
    """Read a session's revocation state from the database."""
    try:
        session_id = uuid.UUID(sid)
    except ValueError:
        return REVOKED
    row = Session.objects.filter(pk=session_id).values_list("revoked_at", "expires_at").first()
    if row is None or row[0] is not None:
        # A session that no longer exists was flushed or its user deleted.
        return REVOKED
    revoked_ids = list(
        BlacklistedToken.objects.filter(session_id=session_id).values_list("jti", flat=True)
    )
    return f"{ACTIVE}:{','.join(revoked_ids)}" if revoked_ids else ACTIVE


def _revoked_timeout(until: datetime | None) -> int:
    """Keep a revoked marker until the revoked tokens would have expired anyway."""
    if until is None:
        return int(tokenkit_settings.session_max_lifetime.total_seconds())
    seconds = (until - timezone.now() + tokenkit_settings.leeway).total_seconds()
    return max(int(seconds), MIN_REVOKED_TIMEOUT)


def _cache_add(key: str, value: str, timeout: int | None) -> None:
    try:
        get_cache().add(key, value, timeout=timeout or _revoked_timeout(None))
    except Exception as error:
        warn_cache_unavailable("revocation cache fill", error)


def publish(rows: Sequence[PendingRevocation]) -> bool:
    """Write the cache markers of these revocations, announce them, clear the outbox.

    Called after the revocations committed, and again by any process that
    finds them still in the outbox (:mod:`django_tokenkit.outbox`): writing a
    marker twice is harmless. Returns False when the cache could not be
    reached; the rows then stay in the outbox and every process keeps
    refusing what they revoke until one of them publishes it.
    """
    keys: list[str] = []
    try:
        cache = get_cache()
        for row in rows:
            if row.kind == PendingRevocation.Kind.API_TOKEN:
                keys.append(api_token_store.write(row.identifier))
                continue
            timeout = _revoked_timeout(row.expires_at)
            if row.kind == PendingRevocation.Kind.SESSION:
                cache.set(session_key(row.identifier), REVOKED, timeout=timeout)
                keys.append(session_key(row.identifier))
                continue
            cache.set(token_key(row.identifier), REVOKED, timeout=timeout)
            keys.append(token_key(row.identifier))
            if row.sid:
                # The session's state lists its revoked token ids; have it re-read.
                cache.delete(session_key(row.sid))
                keys.append(session_key(row.sid))
    except DatabaseError as error:
        # An API token's state is read from its row to be published.
        logger.error(
            "tokenkit could not read %d revocation(s) back to publish them (%s); they stay "
            "in the outbox, and every process refuses them until one can publish them.",
            len(rows),
            type(error).__name__,
        )
        return False
    except Exception as error:  # any backend's connection error
        warn_cache_unavailable("revocation publish", error)
        logger.error(
            "tokenkit could not publish %d revocation(s) to the cache; they stay in the "
            "outbox, and every process refuses them until one can publish them.",
            len(rows),
        )
        return False
    lease.announce(keys)
    outbox.discard(rows)
    return True
