"""The two Redis cache backends tokenkit supports, configured alike for the tests.

django-redis and Django's own ``RedisCache`` take their options in different
shapes; :func:`redis_cache_config` writes the same configuration for either,
so a fixture can run one test against both (see ``redis_cache`` in conftest.py).
"""

from __future__ import annotations

from typing import Any

from django_tokenkit.checks import BUILTIN_REDIS_BACKEND, DJANGO_REDIS_BACKEND

#: The backends, by the short name that ends up in test ids.
REDIS_BACKENDS = {"django_redis": DJANGO_REDIS_BACKEND, "builtin": BUILTIN_REDIS_BACKEND}
#: The alias the ``redis_cache`` fixture adds and points ``CACHE_ALIAS`` at.
REDIS_ALIAS = "redis"


def redis_cache_config(
    backend: str,
    location: str | list[str],
    *,
    timeout: float | None = None,
    **pool_kwargs: Any,
) -> dict[str, Any]:
    """A ``CACHES`` entry for ``backend`` at ``location``.

    ``timeout`` bounds connecting and each command (seconds); ``pool_kwargs``
    go to redis-py's connection pool (``CONNECTION_POOL_KWARGS`` for
    django-redis, ``OPTIONS`` itself for Django's backend).
    """
    if backend == DJANGO_REDIS_BACKEND:
        options: dict[str, Any] = {}
        if timeout is not None:
            options |= {"SOCKET_TIMEOUT": timeout, "SOCKET_CONNECT_TIMEOUT": timeout}
        if pool_kwargs:
            options["CONNECTION_POOL_KWARGS"] = pool_kwargs
    else:
        options = dict(pool_kwargs)
        if timeout is not None:
            options |= {"socket_timeout": timeout, "socket_connect_timeout": timeout}
    return {
        "BACKEND": backend,
        "LOCATION": location,
        "KEY_PREFIX": "tokenkit-backends",
        "OPTIONS": options,
    }
