"""Settings for the django-tokenkit example project.

Everything a person running the demo may want to change comes from the
environment (SPEC section 7); those variable names are a public contract:

``DATABASE_URL``
    dj-database-url form (``postgres://...``, ``sqlite:////abs/path``);
    default SQLite at ``example_project/db.sqlite3``.
``REDIS_URL``
    when set, the default cache is django-redis at that URL, so several server
    processes share tokenkit's state; otherwise a local-memory cache.
``TOKENKIT_ACCESS_TOKEN_LIFETIME``, ``TOKENKIT_REFRESH_TOKEN_LIFETIME``,
``TOKENKIT_SLIDING_THRESHOLD``, ``TOKENKIT_REFRESH_GRACE_PERIOD``,
``TOKENKIT_SESSION_MAX_LIFETIME``, ``TOKENKIT_LEEWAY``
    integer seconds; each sets the ``TOKENKIT`` key of the same name without
    the prefix, and only when present, so the package's defaults apply
    otherwise.
``TOKENKIT_LOGIN_RATE``
    the login throttle, DRF rate syntax (``10/min``).
``TOKENKIT_ALGORITHM``, ``TOKENKIT_SIGNING_KEY_FILES``
    the algorithm (default ``HS256``, signing with ``DJANGO_SECRET_KEY``) and,
    for ``RS256``, ``ES256`` or ``EdDSA``, comma-separated PEM file paths: the
    first (a private key) signs, the others only verify
    (``manage.py tokenkit_generate_key --algorithm ES256`` writes a pair).
    The public keys are then served at ``/api/auth/.well-known/jwks.json``.
``TOKENKIT_ISSUER``, ``TOKENKIT_AUDIENCE``
    the ``iss`` and ``aud`` every token carries (and every token must carry).
``TOKENKIT_JWKS_URL``, ``TOKENKIT_JWKS_CHECK_REVOCATION``
    run the project as a verifying service: it trusts the tokens of the
    issuer whose JWKS is at that URL (``JWKSAuthentication``), and with
    ``TOKENKIT_JWKS_CHECK_REVOCATION=1`` refuses what the shared Redis
    (``REDIS_URL``, the issuer's) says is revoked.
``TOKENKIT_REVOCATION_LEASE_MS``
    integer milliseconds: the revocation lease (``REVOCATION_LEASE``), which
    needs ``REDIS_URL``; ``0`` turns it off. Unset, tokenkit's default
    applies: 50 ms with ``REDIS_URL``, off without it.
``TOKENKIT_REFRESH_COOKIE``
    ``0``/``1`` (default ``0``); ``1`` turns on the refresh cookie
    (``REFRESH_COOKIE``): login and refresh put the refresh token in an
    HttpOnly cookie instead of the body. The cookie is ``Secure`` unless
    ``DJANGO_DEBUG`` is on, so that ``make demo`` works over plain http.
``DJANGO_DEBUG`` (``0``/``1``, default ``1``), ``DJANGO_ALLOWED_HOSTS``
(comma-separated, default ``127.0.0.1,localhost``), ``DJANGO_SECRET_KEY``
    the usual.

A malformed value stops start-up with ``ImproperlyConfigured`` naming the
variable, rather than surfacing later as a confusing error in a request.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def _env_int(name: str) -> int | None:
    """Return the environment variable ``name`` as an int, or None when unset.

    Raises ``ImproperlyConfigured`` naming the variable when it is not an
    integer, because ``int()``'s own message does not say which one was wrong.
    """
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return None
    try:
        return int(raw.strip())
    except ValueError:
        raise ImproperlyConfigured(
            f"{name} must be an integer number of seconds, not {raw!r}."
        ) from None


def _env_bool(name: str, default: bool) -> bool:
    """Return the environment variable ``name`` read as 0/1 (or true/false)."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be 0 or 1, not {raw!r}.")


def _env_list(name: str, default: str) -> list[str]:
    """Return the comma-separated environment variable ``name`` as a list."""
    raw = os.environ.get(name) or default
    return [item.strip() for item in raw.split(",") if item.strip()]


# Demo only: a fixed key so tokens survive restarts of `make demo`. Any real
# deployment sets DJANGO_SECRET_KEY (the package signs tokens with it).
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or (
    "django-insecure-tokenkit-example-project-demo-key-do-not-use-in-production"
)
DEBUG = _env_bool("DJANGO_DEBUG", default=True)
ALLOWED_HOSTS = _env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_tokenkit",
    "notes",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Serves /static/ (the single-page demo, tokenkit.js, the admin's assets)
    # under gunicorn as well as runserver, DEBUG on or off.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Sliding expiration (SPEC section 6): a successful API response whose
    # access token is nearly spent carries the renewed token in X-New-Token.
    "django_tokenkit.middleware.SlidingTokenMiddleware",
]

ROOT_URLCONF = "example_project.urls"
WSGI_APPLICATION = "example_project.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "example_project" / "templates"],
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

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        # Persistent connections under WSGI (each worker thread keeps one); none
        # under ASGI, where Django's docs say they leak (asgi.py sets EXAMPLE_SERVER).
        conn_max_age=0 if os.environ.get("EXAMPLE_SERVER") == "asgi" else 60,
        conn_health_checks=True,
    )
}

# tokenkit keeps its shared state (revocations, refresh single-flight, sliding
# re-issues) in the default cache: Redis is what makes it shared between
# server processes. Local memory is fine for the single-process demo.
REDIS_URL = os.environ.get("REDIS_URL")
CACHES: dict[str, dict[str, Any]]
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            # Keeps the demo's keys apart from the test suite's on a shared Redis.
            "KEY_PREFIX": "tokenkit-example",
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# A verifying service (TOKENKIT_JWKS_URL) trusts another deployment's tokens
# through its published keys; otherwise this project issues its own.
JWKS_URL = os.environ.get("TOKENKIT_JWKS_URL", "").strip() or None
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "django_tokenkit.authentication.JWKSAuthentication"
        if JWKS_URL
        else "django_tokenkit.authentication.JWTAuthentication",
        # API tokens (tkp_...) for scripts and scheduled jobs; the notes API
        # checks their scopes with django_tokenkit.permissions.HasScopes.
        "django_tokenkit.authentication.APITokenAuthentication",
        # Lets a person logged in to the admin browse the API in DRF's
        # browsable renderer; JWT stays first so a 401 says "Bearer".
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": [
        "django_tokenkit.parsers.SafeJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "EXCEPTION_HANDLER": "django_tokenkit.views.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

# The OpenAPI schema at /api/schema/ and Swagger UI at /api/docs/, open to
# anyone (the schema holds no secret) and served from drf-spectacular-sidecar's
# local copy of Swagger UI: no CDN.
SPECTACULAR_SETTINGS: dict[str, Any] = {
    "TITLE": "django-tokenkit example API",
    "DESCRIPTION": "Log in at /api/auth/token/, then authorize with the access token.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

_TOKENKIT_SECONDS_VARIABLES = (
    "ACCESS_TOKEN_LIFETIME",
    "REFRESH_TOKEN_LIFETIME",
    "SLIDING_THRESHOLD",
    "REFRESH_GRACE_PERIOD",
    "SESSION_MAX_LIFETIME",
    "LEEWAY",
)

# The scopes an API token may carry (SPEC section 7): the notes API needs
# notes:read to read and notes:write to write; a token with no scopes has its
# user's full rights. Beyond them, only keys whose variable is set, so
# everything else keeps the package's documented defaults.
TOKENKIT: dict[str, Any] = {
    "API_TOKEN_SCOPES": {
        "notes:read": "Read your notes.",
        "notes:write": "Create, change and delete your notes.",
    },
}
for _key in _TOKENKIT_SECONDS_VARIABLES:
    _seconds = _env_int(f"TOKENKIT_{_key}")
    if _seconds is not None:
        TOKENKIT[_key] = _seconds
if os.environ.get("TOKENKIT_LOGIN_RATE"):
    TOKENKIT["LOGIN_THROTTLE_RATE"] = os.environ["TOKENKIT_LOGIN_RATE"].strip()
_lease_ms = _env_int("TOKENKIT_REVOCATION_LEASE_MS")
if _lease_ms is not None:
    TOKENKIT["REVOCATION_LEASE"] = None if _lease_ms == 0 else _lease_ms / 1000
if _env_bool("TOKENKIT_REFRESH_COOKIE", default=False):
    TOKENKIT["REFRESH_COOKIE"] = True
    # A browser never sends a Secure cookie back over http://127.0.0.1:8000,
    # where `make demo` serves with DEBUG on; anywhere else it must be Secure.
    TOKENKIT["REFRESH_COOKIE_SECURE"] = not DEBUG

_algorithm = os.environ.get("TOKENKIT_ALGORITHM", "").strip()
if _algorithm:
    TOKENKIT["ALGORITHM"] = _algorithm
_key_files = _env_list("TOKENKIT_SIGNING_KEY_FILES", "")
if _key_files:
    # Paths, not contents: tokenkit reads each file once per process.
    TOKENKIT["SIGNING_KEYS"] = _key_files
for _name in ("ISSUER", "AUDIENCE"):
    if os.environ.get(f"TOKENKIT_{_name}", "").strip():
        TOKENKIT[_name] = os.environ[f"TOKENKIT_{_name}"].strip()
if JWKS_URL:
    TOKENKIT["JWKS_URL"] = JWKS_URL
    TOKENKIT["JWKS_CHECK_REVOCATION"] = _env_bool("TOKENKIT_JWKS_CHECK_REVOCATION", default=False)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
# WhiteNoise serves the files straight from the apps' static/ directories
# (through Django's finders), so the demo needs no collectstatic step under
# gunicorn; new or edited files are picked up without a restart under DEBUG.
# A real deployment runs `collectstatic` into STATIC_ROOT and drops
# WHITENOISE_USE_FINDERS.
STATIC_ROOT = BASE_DIR / "staticfiles"
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Where an operator looks: stderr, which runserver, gunicorn, systemd and
# containers all collect. Django's own default sends request errors nowhere
# with DEBUG off (its console handler only speaks under DEBUG, and
# mail_admins needs ADMINS), so a 500 left no traceback. The formatter shows
# no request attributes: nothing of the request's headers (Authorization,
# Cookie) reaches the log, and tokenkit never logs a token itself.
LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(process)d] %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stderr",
            "formatter": "plain",
        },
    },
    "loggers": {
        # Replaces Django's handlers for "django", mail_admins included: its
        # AdminEmailHandler mails the request's META, Authorization header and
        # all, to whoever is in ADMINS.
        "django": {"handlers": ["console"], "level": "INFO" if DEBUG else "WARNING"},
        # A 500 is logged at ERROR with its traceback. Each 4xx is a WARNING,
        # worth seeing while trying the demo, noise in production (the access
        # log has them). "django.server", runserver's request log, keeps
        # Django's own stderr handler.
        "django.request": {"level": "WARNING" if DEBUG else "ERROR"},
        # Logins refused, refresh-token reuse, cache trouble.
        "django_tokenkit": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}
