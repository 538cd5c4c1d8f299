"""What shape each ``TOKENKIT`` value must have: one validator per key.

:mod:`django_tokenkit.checks` reports a value that fails its validator as
``tokenkit.E002``, with the expected shape the table gives; durations are
checked there (``tokenkit.E002``/``E003``), not here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from django_tokenkit import keys
from django_tokenkit.conf import SAMESITE_VALUES, to_timedelta


def _is_str(value: object) -> bool:
    return isinstance(value, str)


def _is_optional_str(value: object) -> bool:
    return value is None or isinstance(value, str)


def _is_bool(value: object) -> bool:
    return isinstance(value, bool)


def _is_positive_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _is_header_types(value: object) -> bool:
    items = [value] if isinstance(value, str) else value
    return (
        isinstance(items, (list, tuple))
        and bool(items)
        and all(isinstance(item, str) and item and " " not in item for item in items)
    )


def _is_rate(value: object) -> bool:
    if value is None:
        return True
    if not isinstance(value, str):
        return False
    num, _, period = value.partition("/")
    return num.isdigit() and int(num) > 0 and period[:1] in {"s", "m", "h", "d"}


def _is_cookie_name(value: object) -> bool:
    return (
        isinstance(value, str) and bool(value) and all(ch.isalnum() or ch in "-_." for ch in value)
    )


def _is_samesite(value: object) -> bool:
    return value in SAMESITE_VALUES


def _is_optional_path(value: object) -> bool:
    return value is None or (isinstance(value, str) and value.startswith("/"))


def _is_scope_name(value: object) -> bool:
    """An RFC 6749 section 3.3 scope-token: printable ASCII, no space, quote or backslash."""
    return (
        isinstance(value, str)
        and bool(value)
        and len(value) <= 64
        and all(0x21 <= ord(ch) <= 0x7E and ch not in '"\\' for ch in value)
    )


def _is_scope_table(value: object) -> bool:
    return isinstance(value, dict) and all(
        _is_scope_name(name) and isinstance(description, str) for name, description in value.items()
    )


def _is_optional_positive_int(value: object) -> bool:
    return value is None or _is_positive_int(value)


def _is_warning_list(value: object) -> bool:
    if not isinstance(value, (list, tuple)):
        return False
    try:
        return all(to_timedelta("API_TOKEN_EXPIRY_WARNINGS", item) > timedelta(0) for item in value)
    except ImproperlyConfigured:
        return False


def _is_optional_http_url(value: object) -> bool:
    return value is None or (isinstance(value, str) and value.startswith(("https://", "http://")))


VALIDATORS: dict[str, tuple[Callable[[object], bool], str]] = {
    "JWKS_URL": (_is_optional_http_url, "None or an http(s) URL"),
    "JWKS_CHECK_REVOCATION": (_is_bool, "True or False"),
    "ALGORITHM": (_is_str, "a string such as 'HS256'"),
    "SIGNING_KEYS": (keys.is_key_list, 'None or a non-empty list of str or {"kid", "key"} dicts'),
    "ISSUER": (_is_optional_str, "None or a string"),
    "AUDIENCE": (_is_optional_str, "None or a string"),
    "ROTATE_REFRESH_TOKENS": (_is_bool, "True or False"),
    "AUTH_HEADER_TYPES": (_is_header_types, "a non-empty list of words such as ['Bearer']"),
    "WWW_AUTHENTICATE_REALM": (_is_str, "a string"),
    "MAX_TOKEN_LENGTH": (_is_positive_int, "a positive integer"),
    "CACHE_ALIAS": (_is_str, "the name of a cache in CACHES"),
    "CACHE_KEY_PREFIX": (_is_str, "a string"),
    "LOGIN_THROTTLE_RATE": (_is_rate, "None or a DRF rate such as '10/min'"),
    "REVOKE_ON_PASSWORD_CHANGE": (_is_bool, "True or False"),
    "REFRESH_COOKIE": (_is_bool, "True or False"),
    "REFRESH_COOKIE_NAME": (_is_cookie_name, "a non-empty cookie name"),
    "REFRESH_COOKIE_SECURE": (_is_bool, "True or False"),
    "REFRESH_COOKIE_SAMESITE": (_is_samesite, "'Lax', 'Strict' or 'None'"),
    "REFRESH_COOKIE_PATH": (_is_optional_path, "None or a URL path starting with '/'"),
    "REFRESH_COOKIE_DOMAIN": (_is_optional_str, "None or a domain"),
    "API_TOKEN_SCOPES": (
        _is_scope_table,
        "a dict of scope names (printable ASCII without spaces, quotes or backslashes, "
        "at most 64 characters) to descriptions",
    ),
    "API_TOKEN_LIMIT_PER_USER": (_is_optional_positive_int, "None or a positive integer"),
    "API_TOKEN_EXPIRY_WARNINGS": (
        _is_warning_list,
        "a list of positive durations (timedelta or seconds)",
    ),
    "API_TOKEN_REVOKE_ON_PASSWORD_CHANGE": (_is_bool, "True or False"),
    "CUSTOM_CLAIMS": (_is_optional_str, "None or the dotted path of a callable(user) -> dict"),
    "SIMPLEJWT_TRANSITION": (_is_bool, "True or False"),
}


#: Durations that may be zero (no leeway, no grace period).
ZERO_ALLOWED = frozenset(
    {"LEEWAY", "REFRESH_GRACE_PERIOD", "SLIDING_THRESHOLD", "API_TOKEN_LAST_USED_INTERVAL"}
)
#: Durations that may be None (off).
OPTIONAL_DURATIONS = frozenset(
    {"SESSION_IDLE_TIMEOUT", "REVOCATION_LEASE", "API_TOKEN_MAX_LIFETIME"}
)
#: django-redis's backend.
DJANGO_REDIS_BACKEND = "django_redis.cache.RedisCache"
#: Django's own Redis backend (Django 4.0+).
BUILTIN_REDIS_BACKEND = "django.core.cache.backends.redis.RedisCache"
#: The backends :func:`django_tokenkit.cache.redis_client` reaches Redis through.
REDIS_BACKENDS = (DJANGO_REDIS_BACKEND, BUILTIN_REDIS_BACKEND)
PER_PROCESS_CACHES = (
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
)


def redis_server_count(config: dict[str, Any]) -> int:
    """How many servers a Redis cache configuration reads from, as its backend counts them.

    Both backends take ``LOCATION`` as a list or a string of comma-separated
    URLs (Django's also splits on ``;``). django-redis's ``SentinelClient``
    turns one URL into two: the primary and a replica it reads from.
    """
    location = config.get("LOCATION") or ""
    is_django_redis = config.get("BACKEND") == DJANGO_REDIS_BACKEND
    if not isinstance(location, str):
        return len(list(location))
    separators = "," if is_django_redis else "[;,]"
    servers = [server for server in re.split(separators, location) if server]
    client_class = str((config.get("OPTIONS") or {}).get("CLIENT_CLASS", ""))
    if is_django_redis and client_class.endswith("SentinelClient"):
        return 2 * len(servers)
    return len(servers)
