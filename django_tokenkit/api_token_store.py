"""API tokens on the hot path: the database decides, the shared cache answers fast.

An API token is opaque: nothing in it says whose it is or until when. Per
request the question "is this a live token, whose, with which scopes, until
when?" is answered from ``<prefix>:api:<digest>`` in the shared cache, under
the same rules as session states (:mod:`django_tokenkit.revocation`):

- a missing key is a miss, never "valid": the row is read and the state
  written back with ``add``, which cannot overwrite a change written meanwhile;
- a change (revocation, rotation) writes the state from the committed row
  with ``set``, after commit, and leaves an outbox row until it has
  (:mod:`django_tokenkit.outbox`), so neither a restart nor a partition of the
  cache can bring a revoked token back.

The user a token belongs to never changes, so each process remembers it per
digest: from a token's second request on, the state and the cached user copy
come in one ``get_many``. Steady state: one cache round trip, no query.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from typing import Any

from django.utils import timezone

from django_tokenkit import cache
from django_tokenkit.models import APIToken

#: How long a live token's state is served from the cache before it is read
#: again. Every change overwrites it at once; this bounds what changes that
#: bypass tokenkit (a row edited in SQL) leave behind.
STATE_TIMEOUT = 300
#: A well-formed digest with no row (a deleted user's token): read again soon.
UNKNOWN_TIMEOUT = 60
UNKNOWN = "x"
#: How many digest -> user facts a process keeps.
MAX_REMEMBERED = 4096


@dataclass(frozen=True)
class APITokenCredential:
    """``request.auth`` for a request authenticated by an API token.

    Holds nothing secret: not the token, not its digest.
    """

    id: str
    name: str
    scopes: tuple[str, ...]
    #: None when the token never expires.
    expires_at: datetime | None
    user_id: Any


@dataclass(frozen=True)
class APITokenState:
    """What the cache holds for a token, as the authentication class reads it."""

    id: str
    user_id: Any
    name: str
    scopes: tuple[str, ...]
    expires_at: datetime | None
    revoked: bool
    rotated: bool

    def credential(self) -> APITokenCredential:
        return APITokenCredential(
            id=self.id,
            name=self.name,
            scopes=self.scopes,
            expires_at=self.expires_at,
            user_id=self.user_id,
        )


def state_key(digest: str) -> str:
    return cache.cache_key("api", digest)


def _encode(row: APIToken | None) -> dict[str, Any] | str:
    """The cache value of a row: plain types only, so any backend can store it."""
    if row is None:
        return UNKNOWN
    return {
        "id": str(row.pk),
        "user": row.user_id,
        "name": row.name,
        "scopes": list(row.scopes or []),
        "exp": None if row.expires_at is None else int(row.expires_at.timestamp()),
        "revoked": row.revoked_at is not None,
        "rotated": row.rotated_at is not None,
    }


def decode(value: Any) -> APITokenState | None:
    """A cached value as a state; None for :data:`UNKNOWN` or anything unreadable."""
    if not isinstance(value, dict):
        return None
    try:
        exp = value["exp"]
        return APITokenState(
            id=str(value["id"]),
            user_id=value["user"],
            name=str(value["name"]),
            scopes=tuple(str(scope) for scope in value["scopes"]),
            expires_at=None
            if exp is None
            else datetime.fromtimestamp(int(exp), tz=dt_timezone.utc),
            revoked=bool(value["revoked"]),
            rotated=bool(value["rotated"]),
        )
    except (KeyError, TypeError, ValueError, OverflowError):
        return None


def is_cached_value(value: Any) -> bool:
    """True for anything :func:`write` or :func:`fill` can have put in the cache."""
    return value == UNKNOWN or decode(value) is not None


def load(digest: str) -> dict[str, Any] | str:
    """The state of ``digest`` as the database has it now (one query)."""
    row = APIToken.objects.filter(digest=digest).first()
    return _encode(row)


def _timeout(value: dict[str, Any] | str) -> int:
    return UNKNOWN_TIMEOUT if value == UNKNOWN else STATE_TIMEOUT


def fill(digest: str, value: dict[str, Any] | str) -> None:
    """After a miss: ``add`` what the database said; a concurrent change wins."""
    try:
        cache.get_cache().add(state_key(digest), value, timeout=_timeout(value))
    except Exception as error:  # any backend's connection error
        cache.warn_cache_unavailable("API token cache fill", error)


def write(digest: str) -> str:
    """After a change committed: ``set`` the state from the row; return the key.

    Raises the backend's error when the cache cannot be reached; the caller
    (:func:`django_tokenkit.revocation.publish`) keeps the outbox row then.
    """
    key = state_key(digest)
    value = load(digest)
    cache.get_cache().set(key, value, timeout=_timeout(value))
    return key


def relevant_until(now: datetime | None = None) -> datetime:
    """How long an outbox row about an API token matters: a stale state's lifetime."""
    return (now or timezone.now()) + timedelta(seconds=STATE_TIMEOUT + 60)


# --- which user a token belongs to, remembered per process -----------------------

_owners: OrderedDict[str, Any] = OrderedDict()
_owners_lock = threading.Lock()


def remembered_owner(digest: str) -> Any:
    """The user pk a previous request showed ``digest`` to belong to, or None."""
    return _owners.get(digest)


def remember_owner(digest: str, user_id: Any) -> None:
    with _owners_lock:
        _owners[digest] = user_id
        _owners.move_to_end(digest)
        while len(_owners) > MAX_REMEMBERED:
            _owners.popitem(last=False)


def forget_owners() -> None:
    """Tests: start with no remembered owners."""
    with _owners_lock:
        _owners.clear()
