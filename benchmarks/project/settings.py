"""Settings of the benchmark project: one project, every contender.

``BENCH_CONTENDER`` (a name from :mod:`benchmarks.contenders`) picks the
authentication a server process runs; without it the process can host all
of them (the authenticate() measurement instantiates each class itself).
Every contender's app is installed in every process, so the database has all
tables and only the authentication differs between runs.

``BENCH_DATABASE_URL`` (default ``postgres://postgres@127.0.0.1:5432/tokenkit_bench``)
and ``BENCH_REDIS_URL`` (default ``redis://127.0.0.1:6379/12``) name the
services; the runner creates and drops that database and flushes that Redis
database.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import dj_database_url

from benchmarks import keys as bench_keys
from benchmarks.contenders import CONTENDERS, FLOOR, TOKENKIT_DEFAULT_REDIS

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/tokenkit_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/12"

CONTENDER = CONTENDERS[os.environ.get("BENCH_CONTENDER") or TOKENKIT_DEFAULT_REDIS]

SECRET_KEY = "benchmark-only-secret-key-long-enough-for-hs256-0123456789abcdef"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
USE_TZ = True
TIME_ZONE = "UTC"
USE_I18N = False

INSTALLED_APPS = [
    # Writes last_login on every login (see benchmarks/project/apps.py).
    "benchmarks.project",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "rest_framework",
    "rest_framework_simplejwt",
    "rest_framework_simplejwt.token_blacklist",
    "knox",
    "django_tokenkit",
]

# The same small API stack for everyone; tokenkit's users install its
# sliding-expiration middleware (which also sets X-API-Token-Expires-At), so
# its contenders pay for it here too.
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
]
if CONTENDER.issuer in ("tokenkit", "tokenkit-api"):
    MIDDLEWARE.append("django_tokenkit.middleware.SlidingTokenMiddleware")

ROOT_URLCONF = "benchmarks.project.urls"
WSGI_APPLICATION = "benchmarks.project.wsgi.application"

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("BENCH_DATABASE_URL") or DEFAULT_DATABASE_URL,
        # Persistent connections, as any production deployment has them.
        conn_max_age=600,
    )
}

REDIS_URL = os.environ.get("BENCH_REDIS_URL") or DEFAULT_REDIS_URL
CACHES: dict[str, dict[str, Any]] = {
    # Nothing in the measured paths uses the default cache.
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "d"},
    "redis": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "bench",
    },
    "locmem": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "tk"},
}

# Fast hashing: the runner creates users and logs them in; no measurement
# includes a password check.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

REST_FRAMEWORK: dict[str, Any] = {
    "DEFAULT_AUTHENTICATION_CLASSES": (
        [*CONTENDER.before, CONTENDER.authentication] if CONTENDER.authentication else []
    ),
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.AllowAny"
        if CONTENDER.name == FLOOR
        else "rest_framework.permissions.IsAuthenticated"
    ],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_THROTTLE_CLASSES": [],
}

# An hour, for every package: no token enters tokenkit's sliding window (or
# expires) during a run, so the steady state is what is measured.
ACCESS_LIFETIME = timedelta(hours=1)

TOKENKIT: dict[str, Any] = {
    "ACCESS_TOKEN_LIFETIME": ACCESS_LIFETIME,
    "CACHE_ALIAS": CONTENDER.cache_alias or "redis",
    "LOGIN_THROTTLE_RATE": None,
    # REVOCATION_LEASE only when the contender sets it: left out, tokenkit's
    # default applies (the lease on with the Redis cache, off with local memory).
    **CONTENDER.tokenkit_overrides(),
}
if CONTENDER.issuer == "tokenkit" and CONTENDER.algorithm != "HS256":
    # A file path, as a deployment would give it: read and parsed once per process.
    TOKENKIT["ALGORITHM"] = CONTENDER.algorithm
    TOKENKIT["SIGNING_KEYS"] = [str(bench_keys.private_path(CONTENDER.algorithm))]

SIMPLE_JWT: dict[str, Any] = {
    "ACCESS_TOKEN_LIFETIME": ACCESS_LIFETIME,
    "SIGNING_KEY": SECRET_KEY,
    "ALGORITHM": "HS256",
    # The rotation + blacklist contender; it changes nothing for access tokens.
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
}

REST_KNOX: dict[str, Any] = {"TOKEN_TTL": timedelta(hours=10)}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# tokenkit.W001 warns about a per-process cache with DEBUG off: the
# tokenkit-locmem contender is exactly that, on purpose.
SILENCED_SYSTEM_CHECKS = ["tokenkit.W001"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "ERROR"},
}
