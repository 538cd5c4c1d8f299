"""The shared cache every store of tokenkit uses: which one, its keys, its failures.

The revocation store, the user cache, the refresh locks, the login throttle,
the revocation lease and sliding renewal all talk to one cache,
``TOKENKIT["CACHE_ALIAS"]``, under one key namespace,
``TOKENKIT["CACHE_KEY_PREFIX"]``. None of them lets a cache failure fail a
request: each catches the backend's error, falls back to the database (or
goes without), and reports it through :func:`warn_cache_unavailable`, which
also tells the revocation outbox (:mod:`django_tokenkit.outbox`) to distrust
the cache's next answers until it has been read.
"""

from __future__ import annotations

import logging
import time

from django.core.cache import BaseCache, caches

from django_tokenkit import outbox
from django_tokenkit.conf import tokenkit_settings

logger = logging.getLogger(__name__)

_WARNING_INTERVAL = 60.0
_last_warning = 0.0


def get_cache() -> BaseCache:
    """The cache shared by all processes (``TOKENKIT["CACHE_ALIAS"]``)."""
    return caches[tokenkit_settings.cache_alias]


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
