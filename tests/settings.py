"""Settings for the test suite.

With no environment the suite runs on the embedded default of SPEC section 8
(SQLite in memory, local-memory cache). ``DATABASE_URL`` and ``REDIS_URL``
switch it to PostgreSQL and Redis, which ``make test`` does for its second
half when they are reachable.
"""

from __future__ import annotations

import os

import dj_database_url

SECRET_KEY = "tests-only-secret-key-that-is-long-enough-for-hs256-0123456789"
DEBUG = False
ALLOWED_HOSTS = ["*"]
USE_TZ = True
TIME_ZONE = "UTC"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    # For SIMPLEJWT_TRANSITION: simplejwt's blacklist, which the transition honours.
    "rest_framework_simplejwt.token_blacklist",
    "django_tokenkit",
    "tests.testapp",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_tokenkit.middleware.SlidingTokenMiddleware",
]

ROOT_URLCONF = "tests.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

DATABASE_URL = os.environ.get("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL)}
else:
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}

REDIS_URL = os.environ.get("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "tokenkit-tests",
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Fast hashing: the suite logs users in hundreds of times.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "django_tokenkit.authentication.JWTAuthentication",
        "django_tokenkit.authentication.APITokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "EXCEPTION_HANDLER": "django_tokenkit.views.exception_handler",
}

TOKENKIT = {
    "LOGIN_THROTTLE_RATE": None,
    # Off, although it is on by default with Redis: the unit tests pin what
    # each request sends to the cache, and the lease would answer from memory
    # once its first ping came back. tests/test_lease.py turns it on, and the
    # end-to-end tests run the example project with the default (lease on).
    "REVOCATION_LEASE": None,
    "API_TOKEN_SCOPES": {"notes:read": "Read notes", "notes:write": "Write notes"},
}

STATIC_URL = "/static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The local-memory cache is the point of the embedded half; silence the check
# that warns about it in production.
SILENCED_SYSTEM_CHECKS: list[str] = []
