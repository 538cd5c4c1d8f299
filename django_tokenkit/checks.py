"""Every system check of tokenkit; their ids are registered in :mod:`django_tokenkit.check_ids`.

A setting that cannot work is reported by ``manage.py check`` (and so by
``runserver``, ``migrate`` and the test runner) with a named id, before any
request can trip over it. Servers such as gunicorn do not run checks: run
``manage.py check --deploy`` in your deployment pipeline.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core import mail
from django.core.checks import CheckMessage
from django.core.exceptions import ImproperlyConfigured

from django_tokenkit import claims, keys
from django_tokenkit.check_ids import (
    BAD_CUSTOM_CLAIMS,
    BAD_DURATION,
    BAD_VALUE,
    CLIENT_SIDE_CACHING,
    CORS_HIDES_HEADERS,
    INSECURE_SAMESITE,
    KEY_PROBLEM_IDS,
    LEASE_NEEDS_REDIS,
    LONG_THRESHOLD,
    NO_CSRF_MIDDLEWARE,
    NO_JWT_AUTHENTICATION,
    NO_REST_FRAMEWORK,
    NO_SIGNING_KEYS,
    NO_SUCH_CACHE,
    PER_PROCESS_CACHE,
    REDIS_REPLICAS,
    SIMPLEJWT_TRANSITION_ON,
    UNKNOWN_SETTING,
    UNREADABLE_KEY,
    UNSUPPORTED_ALGORITHM,
)
from django_tokenkit.conf import (
    AUTO,
    DEFAULTS,
    DURATION_KEYS,
    SHORT_KEY_HINT,
    to_timedelta,
)
from django_tokenkit.validators import BUILTIN_REDIS_BACKEND as BUILTIN_REDIS_BACKEND
from django_tokenkit.validators import DJANGO_REDIS_BACKEND as DJANGO_REDIS_BACKEND
from django_tokenkit.validators import OPTIONAL_DURATIONS as OPTIONAL_DURATIONS
from django_tokenkit.validators import PER_PROCESS_CACHES as PER_PROCESS_CACHES
from django_tokenkit.validators import REDIS_BACKENDS as REDIS_BACKENDS
from django_tokenkit.validators import VALIDATORS as VALIDATORS
from django_tokenkit.validators import ZERO_ALLOWED as ZERO_ALLOWED
from django_tokenkit.validators import redis_server_count as redis_server_count


def check_settings(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[CheckMessage]:
    """Validate the shape of ``TOKENKIT``: known keys, types, durations."""
    raw = getattr(settings, "TOKENKIT", None)
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        return [UNKNOWN_SETTING.message("TOKENKIT must be a dict.")]
    messages: list[CheckMessage] = []
    for name in sorted(set(raw) - set(DEFAULTS), key=str):
        messages.append(
            UNKNOWN_SETTING.message(
                f"TOKENKIT has an unknown key {name!r}.", hint=_unknown_key_hint(name)
            )
        )
    for name, (is_valid, expected) in VALIDATORS.items():
        if name in raw and not is_valid(raw[name]):
            messages.append(
                BAD_VALUE.message(f"TOKENKIT[{name!r}] must be {expected}, not {raw[name]!r}.")
            )
    messages.extend(_check_durations(raw))
    return messages


def _unknown_key_hint(name: object) -> str:
    """ "Did you mean" the closest known keys, then the whole list."""
    known = sorted(DEFAULTS)
    close = difflib.get_close_matches(str(name).upper(), known, n=2, cutoff=0.6)
    listing = "Known keys: " + ", ".join(known) + "."
    if not close:
        return listing
    return "Did you mean " + " or ".join(repr(key) for key in close) + "? " + listing


def _check_durations(raw: dict[str, Any]) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    durations: dict[str, timedelta] = {}
    for name in sorted(DURATION_KEYS):
        value = raw.get(name, DEFAULTS[name])
        if (value is None and name in OPTIONAL_DURATIONS) or (
            name == "REVOCATION_LEASE" and value == AUTO
        ):
            continue
        try:
            # to_timedelta also refuses NaN, infinity and out-of-range numbers,
            # which would otherwise crash this check with a traceback.
            duration = to_timedelta(name, value)
        except ImproperlyConfigured:
            messages.append(
                BAD_VALUE.message(
                    f"TOKENKIT[{name!r}] must be a timedelta or a number of seconds, "
                    f"not {value!r}.",
                )
            )
            continue
        durations[name] = duration
        if duration < timedelta(0) or (duration == timedelta(0) and name not in ZERO_ALLOWED):
            messages.append(
                BAD_DURATION.message(
                    f"TOKENKIT[{name!r}] must be "
                    + ("zero or more" if name in ZERO_ALLOWED else "positive")
                    + f", not {duration}.",
                )
            )
    access = durations.get("ACCESS_TOKEN_LIFETIME")
    threshold = durations.get("SLIDING_THRESHOLD")
    if access is not None and threshold is not None and threshold >= access:
        messages.append(
            LONG_THRESHOLD.message(
                "TOKENKIT['SLIDING_THRESHOLD'] is not shorter than ACCESS_TOKEN_LIFETIME, so "
                "every authenticated response would carry a renewed token.",
                hint="Use a threshold of about a third of the access token lifetime.",
                obj="settings.TOKENKIT",
            )
        )
    return messages


def check_keys(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[CheckMessage]:
    """Every key loads, fits its algorithm, and is strong enough for it.

    The same :func:`~django_tokenkit.keys.inspect_keys` that
    :attr:`~django_tokenkit.conf.TokenkitSettings.signing_keys` runs at start
    of use, so a server that skipped the checks refuses the same keys.
    """
    raw = getattr(settings, "TOKENKIT", None) or {}
    if not isinstance(raw, dict):
        return []
    name = raw.get("ALGORITHM", DEFAULTS["ALGORITHM"])
    algorithm = keys.get_algorithm(name)
    if algorithm is None:
        return [
            UNSUPPORTED_ALGORITHM.message(
                f"TOKENKIT['ALGORITHM'] is {name!r}, which tokenkit does not support.",
                hint="Supported: " + ", ".join(sorted(keys.SUPPORTED_ALGORITHMS)) + ".",
            )
        ]
    value = raw.get("SIGNING_KEYS")
    if not keys.is_key_list(value):
        return []  # reported by check_settings
    if value is None and algorithm.asymmetric:
        return [
            UNREADABLE_KEY.message(
                f"TOKENKIT['ALGORITHM'] is {algorithm.name} but SIGNING_KEYS is not set: "
                "SECRET_KEY cannot be a key pair.",
                hint=f"Generate one with: manage.py tokenkit_generate_key --algorithm "
                f"{algorithm.name} --out <directory>",
            )
        ]
    entries = keys.load_key_entries(value, default_key=settings.SECRET_KEY)
    source = "SECRET_KEY" if value is None else "SIGNING_KEYS"
    _, problems = keys.inspect_keys(entries, algorithm.name)
    messages: list[CheckMessage] = []
    for problem in problems:
        check_id = KEY_PROBLEM_IDS[problem.kind]
        hint = None
        if problem.kind == "short":
            hint = SHORT_KEY_HINT
        messages.append(
            check_id.message(f"The key {problem.label} from {source} {problem.message}.", hint=hint)
        )
    return messages


def check_cache(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[CheckMessage]:
    """The configured cache exists and, in production, is shared between processes."""
    raw = getattr(settings, "TOKENKIT", None) or {}
    alias = raw.get("CACHE_ALIAS", DEFAULTS["CACHE_ALIAS"]) if isinstance(raw, dict) else None
    if not isinstance(alias, str):
        return []
    caches_setting = getattr(settings, "CACHES", {})
    if alias not in caches_setting:
        return [
            NO_SUCH_CACHE.message(
                f"TOKENKIT['CACHE_ALIAS'] is {alias!r}, but CACHES has no such cache.",
            )
        ]
    config = caches_setting[alias]
    backend = config.get("BACKEND", "")
    if raw.get("REVOCATION_LEASE") not in (None, AUTO) and backend not in REDIS_BACKENDS:
        return [
            LEASE_NEEDS_REDIS.message(
                f"TOKENKIT['REVOCATION_LEASE'] is set, but the tokenkit cache {alias!r} uses "
                f"{backend or 'no backend'}; the lease needs Redis publish/subscribe.",
                hint="Point CACHE_ALIAS at a Redis cache (" + " or ".join(REDIS_BACKENDS) + "), "
                'or set REVOCATION_LEASE to None (or "auto", on only with Redis).',
            )
        ]
    if backend in REDIS_BACKENDS and redis_server_count(config) > 1:
        return [
            REDIS_REPLICAS.message(
                f"The tokenkit cache {alias!r} names several Redis servers; both Redis "
                "backends write to the first and read from the others, so a revocation "
                "written to the primary could be read back as 'not revoked' from a "
                "replica that has not caught up.",
                hint="Give tokenkit a cache alias whose LOCATION is the primary alone, and "
                "point CACHE_ALIAS at it (see the deployment guide).",
                obj="settings.CACHES",
            )
        ]
    if not settings.DEBUG and backend in PER_PROCESS_CACHES and not _harmless_in_tests(backend):
        return [
            PER_PROCESS_CACHE.message(
                f"The tokenkit cache {alias!r} uses {backend}, which is not shared between "
                "processes: revocations, sliding renewals and refresh coordination would "
                "only be seen by the process that made them.",
                hint="Use Redis (django-redis or Django's RedisCache) or Memcached in production.",
                obj="settings.CACHES",
            )
        ]
    options = caches_setting[alias].get("OPTIONS") or {}
    pool_kwargs = options.get("CONNECTION_POOL_KWARGS") or {}
    if any("cache_config" in place or "cache" in place for place in (options, pool_kwargs)):
        return [
            CLIENT_SIDE_CACHING.message(
                f"The tokenkit cache {alias!r} enables redis-py's client-side caching. A "
                "process may then answer from its own copy after a revocation was written, "
                "and keeps answering from it while Redis is unreachable.",
                hint="Give tokenkit a cache alias without cache_config (see the deployment guide).",
                obj="settings.CACHES",
            )
        ]
    return []


def _harmless_in_tests(backend: str) -> bool:
    """A local-memory cache under a test runner: one process, nothing to share.

    ``django.test.utils.setup_test_environment`` (run by ``manage.py test``
    and by pytest-django) installs ``django.core.mail.outbox``; that, rather
    than ``sys.argv`` or a ``TESTING`` flag, tells a test run apart, whatever
    ``DEBUG`` says (the test runner turns it off). A dummy cache is not
    harmless even there: revocations and refresh coordination would vanish.
    """
    return backend == PER_PROCESS_CACHES[0] and hasattr(mail, "outbox")


def check_refresh_cookie(
    app_configs: Sequence[Any] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """Cookie mode is configured so browsers keep and protect the cookie."""
    raw = getattr(settings, "TOKENKIT", None) or {}
    if not isinstance(raw, dict) or raw.get("REFRESH_COOKIE") is not True:
        return []
    messages: list[CheckMessage] = []
    secure = raw.get("REFRESH_COOKIE_SECURE", DEFAULTS["REFRESH_COOKIE_SECURE"])
    samesite = raw.get("REFRESH_COOKIE_SAMESITE", DEFAULTS["REFRESH_COOKIE_SAMESITE"])
    if samesite == "None" and secure is not True:
        messages.append(
            INSECURE_SAMESITE.message(
                "TOKENKIT['REFRESH_COOKIE_SAMESITE'] is 'None' but REFRESH_COOKIE_SECURE is "
                "off; browsers drop such cookies.",
            )
        )
    if "django.middleware.csrf.CsrfViewMiddleware" not in settings.MIDDLEWARE:
        messages.append(
            NO_CSRF_MIDDLEWARE.message(
                "The refresh cookie is on but django.middleware.csrf.CsrfViewMiddleware is "
                "not in MIDDLEWARE, so no csrftoken cookie is set and cookie-based refresh "
                "cannot pass its CSRF check.",
                obj="settings.MIDDLEWARE",
            )
        )
    return messages


def check_cors_expose_headers(
    app_configs: Sequence[Any] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """django-cors-headers replaces the expose list: ours must be in it."""
    if "django_tokenkit.middleware.SlidingTokenMiddleware" not in settings.MIDDLEWARE:
        return []
    exposed = getattr(settings, "CORS_EXPOSE_HEADERS", None)
    if not exposed:
        return []
    lowered = {str(name).lower() for name in exposed}
    missing = [
        name for name in ("X-New-Token", "X-New-Token-Expires-In") if name.lower() not in lowered
    ]
    if not missing:
        return []
    return [
        CORS_HIDES_HEADERS.message(
            "CORS_EXPOSE_HEADERS does not list " + " and ".join(missing) + "; browsers on "
            "other origins will not let the front end read renewed tokens.",
            hint="Add them to CORS_EXPOSE_HEADERS.",
            obj="settings.CORS_EXPOSE_HEADERS",
        )
    ]


def check_rest_framework(
    app_configs: Sequence[Any] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """DRF is installed (its templates render the browsable API) and uses JWTAuthentication."""
    messages: list[CheckMessage] = []
    if not apps.is_installed("rest_framework"):
        messages.append(
            NO_REST_FRAMEWORK.message(
                "'rest_framework' is not in INSTALLED_APPS: tokenkit's views are Django REST "
                "framework views, and a browser asking for one gets a 500 "
                "(TemplateDoesNotExist) without DRF's templates.",
                hint="Add 'rest_framework' to INSTALLED_APPS, next to 'django_tokenkit'.",
                obj="settings.INSTALLED_APPS",
            )
        )
    configured = getattr(settings, "REST_FRAMEWORK", None) or {}
    classes = (
        configured.get("DEFAULT_AUTHENTICATION_CLASSES") if isinstance(configured, dict) else None
    )
    if classes is None or JWT_AUTHENTICATION not in [str(name) for name in classes]:
        messages.append(
            NO_JWT_AUTHENTICATION.message(
                f"{JWT_AUTHENTICATION} is not in REST_FRAMEWORK['DEFAULT_AUTHENTICATION_CLASSES'], "
                "so your views ignore tokenkit's access tokens: a request with a valid Bearer "
                "token is answered 401 or 403.",
                hint=f"Add '{JWT_AUTHENTICATION}' to "
                "REST_FRAMEWORK['DEFAULT_AUTHENTICATION_CLASSES'] (and "
                "'django_tokenkit.authentication.APITokenAuthentication' for API tokens). "
                "If every view sets its own authentication_classes, silence this warning with "
                "SILENCED_SYSTEM_CHECKS = ['tokenkit.W006'].",
                obj="settings.REST_FRAMEWORK",
            )
        )
    return messages


def check_deploy_signing_keys(
    app_configs: Sequence[Any] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """Under ``check --deploy``: tokens should have a key of their own, not SECRET_KEY."""
    raw = getattr(settings, "TOKENKIT", None) or {}
    if not isinstance(raw, dict) or raw.get("SIGNING_KEYS") is not None:
        return []
    return [
        NO_SIGNING_KEYS.message(
            "TOKENKIT['SIGNING_KEYS'] is not set, so tokens are signed with SECRET_KEY: "
            "rotating SECRET_KEY logs every user out, and the key cannot be rotated on its own.",
            hint="Generate a key with `python manage.py tokenkit_generate_key --kid <id>` and "
            "set TOKENKIT['SIGNING_KEYS'] = [<its output>], read from the environment.",
        )
    ]


def check_custom_claims(
    app_configs: Sequence[Any] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """``CUSTOM_CLAIMS`` imports, is callable and, tried on an unsaved user, reserves nothing."""
    raw = getattr(settings, "TOKENKIT", None) or {}
    path = raw.get("CUSTOM_CLAIMS") if isinstance(raw, dict) else None
    if not isinstance(path, str):
        return []  # unset, or reported by check_settings
    problem = claims.problem_with(path)
    if problem is None:
        return []
    return [BAD_CUSTOM_CLAIMS.message(f"TOKENKIT['CUSTOM_CLAIMS'] {problem}", hint=claims.HINT)]


JWT_AUTHENTICATION = "django_tokenkit.authentication.JWTAuthentication"


def check_simplejwt_transition(
    app_configs: Sequence[Any] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """While the transition from simplejwt is on, say so (and whether it can work)."""
    raw = getattr(settings, "TOKENKIT", None) or {}
    if not isinstance(raw, dict) or raw.get("SIMPLEJWT_TRANSITION") is not True:
        return []
    try:
        import rest_framework_simplejwt.tokens  # noqa: F401
    except ImportError:
        state = (
            "but rest_framework_simplejwt cannot be imported, so simplejwt's tokens are "
            "refused as token_invalid"
        )
    else:
        state = (
            "tokenkit still accepts simplejwt's access tokens, which cannot be revoked, and "
            "exchanges its refresh tokens"
        )
    return [
        SIMPLEJWT_TRANSITION_ON.message(
            f"TOKENKIT['SIMPLEJWT_TRANSITION'] is on: {state}.",
            hint="Keep djangorestframework-simplejwt and its SIMPLE_JWT settings until "
            "simplejwt's REFRESH_TOKEN_LIFETIME has passed since the switch, then set "
            "SIMPLEJWT_TRANSITION to False and remove simplejwt.",
        )
    ]
