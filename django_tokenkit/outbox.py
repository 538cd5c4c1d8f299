"""The revocation outbox: revocations the shared cache may not have seen yet.

A revocation is written to the database, then published to the shared cache
(see :mod:`django_tokenkit.revocation`). When the cache cannot be reached at
that moment (a partition, a Redis stopped or frozen), or the process dies
between the commit and the publish, the cache keeps saying "active" for a
session the database has revoked. A Redis *restart* is harmless (its contents
are gone, so every process reads the database), but a partition that heals
brings back the old contents, and with them the old answer.

So every revocation also writes a :class:`~django_tokenkit.models.PendingRevocation`
row in its own transaction, and deletes it once its cache markers are
written. Each process reads the table (one indexed query that finds nothing in
the steady state):

- at least every ``REVOCATION_OUTBOX_INTERVAL`` (default one second), on the
  first authentication after the interval has passed;
- on the first authentication answered by the cache after this process saw
  the cache fail, before the cache's answer is trusted.

What it finds is refused from memory on every request until a later read no
longer lists it, and is published to the cache by the first process that can
reach it, which deletes the rows. The request that made a read asks the
database, not the cache, for the state it needs: the cache answer it fetched
before the read may predate a publish whose rows the read no longer saw.

A process that saw the partition heal therefore refuses a revoked token on
its very next request; a process that never saw the cache fail does so
within one interval.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from django.core.signals import setting_changed
from django.db import DatabaseError
from django.utils import timezone

from django_tokenkit.conf import tokenkit_settings
from django_tokenkit.models import PendingRevocation

logger = logging.getLogger(__name__)

#: At most this many rows are read per check. With more unpublished
#: revocations than that (a mass revocation during an outage) the process
#: stops trusting the cache's "active" answers until the outbox drains.
MAX_ROWS = 10_000

_WARNING_INTERVAL = 60.0

Publisher = Callable[[Sequence[PendingRevocation]], bool]

#: The clock intervals are measured on; tests replace it to control time.
clock: Callable[[], float] = time.monotonic


@dataclass(frozen=True)
class Pending:
    """What the last read of the outbox listed, as this process refuses it."""

    sids: frozenset[str] = frozenset()
    jtis: frozenset[str] = frozenset()
    #: API tokens (by digest) whose cached state may predate a change.
    api_digests: frozenset[str] = frozenset()
    #: More rows than :data:`MAX_ROWS`: distrust every "active" the cache gives.
    overflow: bool = False
    #: This answer comes from a read made after the caller's cache fetch.
    #: What the caller fetched may predate a publish whose rows that read no
    #: longer saw (another process published them meanwhile), so the
    #: caller's cached "active" is not trusted this once.
    read_after_fetch: bool = False

    def revokes(self, sid: str, jti: str) -> bool:
        """True when the outbox lists ``sid`` or ``jti`` as revoked."""
        return sid in self.sids or jti in self.jtis

    def distrusts_api_token(self, digest: str) -> bool:
        """True when the cached state of this API token must not be believed."""
        return not self.trusts_cache or digest in self.api_digests

    @property
    def trusts_cache(self) -> bool:
        """Whether a cached "active" may be believed (else: read the database)."""
        return not (self.overflow or self.read_after_fetch)


NOTHING_PENDING = Pending()


@dataclass
class _State:
    """Per-process memory of the outbox; replaced whole by :func:`forget`."""

    pending: Pending = NOTHING_PENDING
    #: ``time.monotonic()`` of the last read; ``None`` before the first.
    read_at: float | None = None
    #: :func:`cache_failures` as it was at the last read.
    failures_seen: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    warned_at: float | None = None


_state = _State()
_cache_failures = 0


def note_cache_failure() -> None:
    """Called on every failed cache operation: the next check reads the outbox."""
    global _cache_failures
    _cache_failures += 1


def record(rows: Iterable[PendingRevocation]) -> list[PendingRevocation]:
    """Save ``rows`` (unsaved) in the caller's transaction; return them with ids."""
    saved: list[PendingRevocation] = PendingRevocation.objects.bulk_create(list(rows))
    return saved


def for_session(sid: str, expires_at: datetime) -> PendingRevocation:
    """An unsaved outbox row for the revocation of session ``sid``."""
    return PendingRevocation(
        kind=PendingRevocation.Kind.SESSION, identifier=sid, expires_at=expires_at
    )


def for_token(jti: str, sid: str | None, expires_at: datetime) -> PendingRevocation:
    """An unsaved outbox row for the revocation of the single token ``jti``."""
    return PendingRevocation(
        kind=PendingRevocation.Kind.TOKEN, identifier=jti, sid=sid or "", expires_at=expires_at
    )


def for_api_token(digest: str, relevant_until: datetime) -> PendingRevocation:
    """An unsaved outbox row saying the cached state of one API token may be stale.

    Unlike a session's, it does not say "revoked": the change may be a
    rotation that leaves the token a grace period. Processes that read it
    ask the database for that token instead of the cache until it is
    published. It matters only while a stale state can still be cached, so
    ``relevant_until`` is the change's time plus the state's cache timeout.
    """
    return PendingRevocation(
        kind=PendingRevocation.Kind.API_TOKEN, identifier=digest, expires_at=relevant_until
    )


def discard(rows: Sequence[PendingRevocation]) -> None:
    """Delete rows whose markers are in the cache; a failure only delays it."""
    ids = [row.pk for row in rows if row.pk is not None]
    if not ids:
        return
    try:
        PendingRevocation.objects.filter(pk__in=ids).delete()
    except DatabaseError as error:
        # Harmless: the next check publishes them again (idempotent), then deletes.
        logger.warning(
            "tokenkit could not clear %d published revocations from the outbox (%s).",
            len(ids),
            type(error).__name__,
        )


def pending(*, cache_answered: bool, publish: Publisher, now: float | None = None) -> Pending:
    """The revocations to refuse from memory, reading the outbox when due.

    ``cache_answered`` says whether this request's revocation state came from
    the cache: after a cache failure, its answer is trusted only once the
    outbox was read. ``publish`` writes rows' markers to the cache and deletes
    the rows (:func:`django_tokenkit.revocation.publish`); it is called with
    whatever a read finds, and only when the cache is answering.
    """
    state = _state
    moment = clock() if now is None else now
    failures = _cache_failures
    due = (
        state.read_at is None
        or moment - state.read_at >= tokenkit_settings.revocation_outbox_interval.total_seconds()
        or (cache_answered and failures != state.failures_seen)
    )
    if not due or not state.lock.acquire(blocking=False):
        # Another thread of this process is reading it now: use the last answer.
        return state.pending
    try:
        rows = _read(state, moment)
        # Even a failed read waits an interval: a database outage must not
        # add a connection attempt to every request the cache can answer.
        state.failures_seen = failures
        state.read_at = moment
        if rows is None:
            return state.pending
        state.pending = Pending(
            sids=frozenset(r.identifier for r in rows if r.kind == PendingRevocation.Kind.SESSION),
            jtis=frozenset(r.identifier for r in rows if r.kind == PendingRevocation.Kind.TOKEN),
            api_digests=frozenset(
                r.identifier for r in rows if r.kind == PendingRevocation.Kind.API_TOKEN
            ),
            overflow=len(rows) > MAX_ROWS,
        )
        if rows and cache_answered:
            publish(rows[:MAX_ROWS])
        return replace(state.pending, read_after_fetch=True)
    finally:
        state.lock.release()


def _read(state: _State, moment: float) -> list[PendingRevocation] | None:
    """The unexpired rows, oldest first; None when the database failed."""
    try:
        return list(
            PendingRevocation.objects.filter(expires_at__gt=timezone.now()).order_by("id")[
                : MAX_ROWS + 1
            ]
        )
    except DatabaseError as error:
        if state.warned_at is None or moment - state.warned_at >= _WARNING_INTERVAL:
            state.warned_at = moment
            logger.warning(
                "tokenkit could not read the revocation outbox (%s); keeping what it listed.",
                type(error).__name__,
            )
        return None


def forget(*, read_at: float | None = None) -> None:
    """Drop this process's memory of the outbox (tests, and setting changes).

    ``read_at`` (a :data:`clock` value) says the outbox was read then
    and found empty, which is the steady state tests start from; without it
    the next check reads the outbox.
    """
    global _state
    _state = _State(read_at=read_at, failures_seen=_cache_failures)


def _forget_on_setting_change(*, setting: str, **kwargs: object) -> None:
    # What a read found is the database's truth: only another database makes
    # it stale. (The interval is read at call time; a new cache changes nothing.)
    if setting == "DATABASES":
        forget()


setting_changed.connect(_forget_on_setting_change)
