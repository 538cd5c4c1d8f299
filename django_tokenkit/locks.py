"""A best-effort lock shared by every process, through the configured cache.

Used to let one refresh of a given token run at a time, so concurrent
refreshes queue on the cache instead of piling up on a database row lock
(or, on SQLite, failing with "database is locked"). The lock is an
optimisation, never the guarantee: the refresh's conditional ``UPDATE`` in
the database decides which request rotates, so an expired, lost or
unavailable lock can cost time but never a second rotation.

- Redis (django-redis or Django's RedisCache): a Redis lock on the primary,
  redis-py's own :class:`redis.lock.Lock` - ``SET key token NX PX`` with a
  random token, so it expires on its own, released by a script that deletes
  the key only if it still holds this owner's token, so a holder whose lock
  expired never frees the next holder's.
- local-memory cache: a ``threading.Lock`` per name; that cache is itself
  per process, so a process-wide lock is exactly as shared as the data.
- any other backend: ``cache.add()`` of a marker, polled until it is gone.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from django.core.cache import BaseCache
from django.core.cache.backends.locmem import LocMemCache

from django_tokenkit.cache import cache_key, get_cache, redis_client, warn_cache_unavailable

if TYPE_CHECKING:
    import redis

logger = logging.getLogger(__name__)

#: How long a holder may keep the lock before it expires on its own (seconds).
LOCK_TIMEOUT = 10.0
#: How long a waiter waits before going ahead without the lock (seconds).
WAIT_TIMEOUT = 10.0
POLL_INTERVAL = 0.01

_local_locks: dict[str, threading.Lock] = {}
_local_locks_guard = threading.Lock()


@contextmanager
def single_flight(name: str) -> Iterator[bool]:
    """Run the block while holding the lock ``name``; yield whether it was held.

    Never raises because of the cache: when the lock cannot be had (cache
    down, waited too long) the block runs anyway and ``False`` is yielded.
    """
    try:
        cache = get_cache()
        client = None if isinstance(cache, LocMemCache) else redis_client(write=True)
    except Exception as error:
        warn_cache_unavailable("refresh lock", error)
        yield False
        return
    key = cache_key("lock", name)
    if isinstance(cache, LocMemCache):
        with _local_lock(key) as held:
            yield held
    elif client is not None:
        # The backend's own key (KEY_PREFIX, VERSION), as its other keys.
        with _redis_lock(client, cache.make_key(key)) as held:
            yield held
    else:
        with _marker_lock(cache, key) as held:
            yield held


@contextmanager
def _local_lock(key: str) -> Iterator[bool]:
    with _local_locks_guard:
        lock = _local_locks.setdefault(key, threading.Lock())
    held = lock.acquire(timeout=WAIT_TIMEOUT)
    try:
        yield held
    finally:
        if held:
            lock.release()
        with _local_locks_guard:
            if not lock.locked():
                _local_locks.pop(key, None)


@contextmanager
def _redis_lock(client: redis.Redis, key: str) -> Iterator[bool]:
    try:
        lock = client.lock(
            key, timeout=LOCK_TIMEOUT, blocking_timeout=WAIT_TIMEOUT, sleep=POLL_INTERVAL
        )
        held = bool(lock.acquire(blocking=True))
    except Exception as error:
        warn_cache_unavailable("refresh lock", error)
        yield False
        return
    try:
        yield held
    finally:
        if held:
            try:
                lock.release()
            except Exception:  # expired meanwhile (LockNotOwnedError) or cache gone
                logger.debug("tokenkit lock %s expired before release", key)


@contextmanager
def _marker_lock(cache: BaseCache, key: str) -> Iterator[bool]:
    owner = uuid.uuid4().hex
    deadline = time.monotonic() + WAIT_TIMEOUT
    held = False
    try:
        while not (held := cache.add(key, owner, timeout=LOCK_TIMEOUT)):
            if time.monotonic() >= deadline:
                break
            time.sleep(POLL_INTERVAL)
    except Exception as error:
        warn_cache_unavailable("refresh lock", error)
        held = False
    try:
        yield held
    finally:
        if held:
            try:
                if cache.get(key) == owner:
                    cache.delete(key)
            except Exception as error:
                warn_cache_unavailable("refresh lock release", error)
