"""The shared cache every store of tokenkit uses: which one, its keys, its failures.

The revocation store, the user cache, the refresh locks, the login throttle,
the revocation lease and sliding renewal all talk to one cache,
``TOKENKIT["CACHE_ALIAS"]``, under one key namespace,
``TOKENKIT["CACHE_KEY_PREFIX"]``. None of them lets a cache failure fail a
request: each catches the backend's error, falls back to the database (or
goes without), and reports it through :func:`warn_cache_unavailable`, which
also tells the revocation outbox (:mod:`django_tokenkit.outbox`) to distrust
the cache's next answers until it has been read.

Some stores need Redis itself rather than Django's cache API (the refresh
locks, the revocation lease's publish/subscribe): :func:`redis_client` is the
one place that reaches the raw redis-py client of either Redis backend.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import TYPE_CHECKING, Any

from django.core.cache import BaseCache, caches
from django.core.cache.backends.redis import RedisCache as BuiltinRedisCache

from django_tokenkit import outbox
from django_tokenkit.conf import tokenkit_settings

if TYPE_CHECKING:
    import redis

logger = logging.getLogger(__name__)

_WARNING_INTERVAL = 60.0
_last_warning = 0.0


def get_cache() -> BaseCache:
    """The cache shared by all processes (``TOKENKIT["CACHE_ALIAS"]``)."""
    return caches[tokenkit_settings.cache_alias]


def redis_client(write: bool, alias: str | None = None) -> redis.Redis | None:
    """The raw redis-py client of tokenkit's cache, or None when it is not Redis.

    ``alias`` defaults to ``TOKENKIT["CACHE_ALIAS"]``. ``write=True`` gives the
    client of the first server of ``LOCATION`` (the primary), which is where
    both backends send their writes. Creating the client sends nothing to
    Redis; its first command connects (and raises if Redis is down).
    """
    cache: Any = caches[alias or tokenkit_settings.cache_alias]
    if isinstance(cache, BuiltinRedisCache):
        # Private API: Django documents no way to reach the redis-py client of
        # its RedisCache. ``_cache`` is its RedisCacheClient (Django 4.0 to 6.0)
        # and ``get_client(key, write=...)`` picks the server as its own
        # commands do; tests/test_cache_backends.py pins both on every
        # Django of the tox matrix.
        client: redis.Redis = cache._cache.get_client(None, write=write)
        return client
    django_redis_cache = sys.modules.get("django_redis.cache")
    if django_redis_cache is not None and isinstance(cache, django_redis_cache.RedisCache):
        # django-redis is optional: if its backend is in use, it is imported.
        from django_redis import get_redis_connection  # type: ignore[import-untyped]

        try:
            connection: redis.Redis = get_redis_connection(
                alias or tokenkit_settings.cache_alias, write=write
            )
        except NotImplementedError:  # ShardClient: no single redis-py client
            return None
        return connection
    return None


def namespaced(name: str) -> str:
    """``name`` in tokenkit's namespace of the shared cache (``CACHE_KEY_PREFIX``)."""
    return f"{tokenkit_settings.cache_key_prefix}:{name}"


def cache_key(kind: str, identifier: str) -> str:
    """The key of ``identifier`` among tokenkit's keys of ``kind`` in the shared cache."""
    return namespaced(f"{kind}:{identifier}")


def warn_cache_unavailable(operation: str, error: BaseException) -> None:
    """Log that the cache failed, at most once per interval per process.

    Every failure, logged or not, is noted by the outbox: a process that saw
    the cache fail reads the outbox before it trusts the cache again.
    """
    global _last_warning
    outbox.note_cache_failure()
    now = time.monotonic()
    if now - _last_warning >= _WARNING_INTERVAL:
        _last_warning = now
        logger.warning(
            "tokenkit cache %r unavailable during %s (%s); falling back to the database.",
            tokenkit_settings.cache_alias,
            operation,
            type(error).__name__,
        )
