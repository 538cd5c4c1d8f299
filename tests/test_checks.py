"""System checks: every id in ``REGISTRY`` has a passing and a failing test.

The check functions are called directly against the ``settings`` fixture; one
group of tests runs ``manage.py check`` to prove they are registered.
"""

from __future__ import annotations

import inspect
from datetime import timedelta
from typing import Any

import pytest
from django.core import checks as django_checks
from django.core import mail
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from django_tokenkit import check_ids, checks
from django_tokenkit.check_ids import CHECK_IDS, KEY_PROBLEM_IDS, REGISTRY, CheckId
from django_tokenkit.checks import (
    VALIDATORS,
    check_cache,
    check_keys,
    check_settings,
)
from django_tokenkit.conf import DURATION_KEYS
from tests import settings as base_settings
from tests.keypairs import private_pem, public_pem

STRONG_KEY = "s" * 64
OTHER_STRONG_KEY = "o" * 64
SHARED_CACHE = {
    "BACKEND": "django_redis.cache.RedisCache",
    "LOCATION": "redis://127.0.0.1:6379/3",
}
LOCMEM = "django.core.cache.backends.locmem.LocMemCache"
MEMCACHED = "django.core.cache.backends.memcached.PyMemcacheCache"
DJANGO_REDIS = "django_redis.cache.RedisCache"
BUILTIN_REDIS = "django.core.cache.backends.redis.RedisCache"
#: A configuration every check accepts; failing cases change one thing in it.
CLEAN_TOKENKIT = {"SIGNING_KEYS": [STRONG_KEY], "CACHE_ALIAS": "tokenkit"}


#: Every check function of the module, so a new one is covered without edits here.
CHECK_FUNCTIONS = [
    function
    for name, function in vars(checks).items()
    if name.startswith("check_") and inspect.isfunction(function)
]
CSRF_MIDDLEWARE = "django.middleware.csrf.CsrfViewMiddleware"
SLIDING_MIDDLEWARE = "django_tokenkit.middleware.SlidingTokenMiddleware"


def run_checks() -> list[django_checks.CheckMessage]:
    return [message for function in CHECK_FUNCTIONS for message in function()]


def ids(messages: list[django_checks.CheckMessage]) -> list[str]:
    return [message.id for message in messages if message.id is not None]


def middleware_without(settings: Any, name: str) -> list[str]:
    return [entry for entry in settings.MIDDLEWARE if entry != name]


@pytest.fixture(autouse=True)
def outside_test_runner(monkeypatch: pytest.MonkeyPatch) -> None:
    """Checks judged as for a server: W001 stays silent under a test runner."""
    monkeypatch.delattr(mail, "outbox", raising=False)


def configure(settings: Any, tokenkit: Any = None, *, replace: bool = False, **django: Any) -> None:
    """Start from the clean configuration; ``tokenkit`` is merged in (or replaces it)."""
    settings.DEBUG = False
    settings.REST_FRAMEWORK = base_settings.REST_FRAMEWORK
    if settings.INSTALLED_APPS != base_settings.INSTALLED_APPS:
        settings.INSTALLED_APPS = base_settings.INSTALLED_APPS
    settings.MIDDLEWARE = [
        *settings.MIDDLEWARE,
        *(
            name
            for name in (CSRF_MIDDLEWARE, SLIDING_MIDDLEWARE)
            if name not in settings.MIDDLEWARE
        ),
    ]
    settings.CORS_EXPOSE_HEADERS = ["X-New-Token", "X-New-Token-Expires-In"]
    # Its own alias, so the default cache (which conftest clears) keeps its backend.
    settings.CACHES = {**settings.CACHES, "tokenkit": SHARED_CACHE}
    if replace:
        settings.TOKENKIT = tokenkit
    else:
        settings.TOKENKIT = {**CLEAN_TOKENKIT, **(tokenkit or {})}
    removed = django.pop("without", None)
    if removed is not None:
        settings.MIDDLEWARE = middleware_without(settings, removed)
    for name, value in django.items():
        setattr(settings, name, value)


# One failing configuration per id, also used to prove REGISTRY is complete.
FAILING: dict[str, dict[str, Any]] = {
    "tokenkit.E001": {"tokenkit": {"ACCESS_LIFETIME": 60}},
    "tokenkit.E002": {"tokenkit": {"ROTATE_REFRESH_TOKENS": "yes"}},
    "tokenkit.E003": {"tokenkit": {"REFRESH_TOKEN_LIFETIME": 0}},
    "tokenkit.E004": {"tokenkit": {"SIGNING_KEYS": ["short"]}},
    "tokenkit.E005": {"tokenkit": {"ALGORITHM": "RS512"}},
    "tokenkit.E006": {"tokenkit": {"CACHE_ALIAS": "missing"}},
    "tokenkit.E007": {
        "tokenkit": {
            "SIGNING_KEYS": [
                {"kid": "a", "key": STRONG_KEY},
                {"kid": "a", "key": OTHER_STRONG_KEY},
            ]
        }
    },
    "tokenkit.E011": {"tokenkit": {"SIGNING_KEYS": [public_pem("RS256")]}},
    "tokenkit.E012": {"tokenkit": {"ALGORITHM": "RS256", "SIGNING_KEYS": [private_pem("RSA1024")]}},
    "tokenkit.E013": {"tokenkit": {"ALGORITHM": "ES256", "SIGNING_KEYS": [private_pem("P384")]}},
    "tokenkit.E014": {"tokenkit": {"ALGORITHM": "EdDSA", "SIGNING_KEYS": [public_pem("EdDSA")]}},
    "tokenkit.E015": {"tokenkit": {"ALGORITHM": "ES256", "SIGNING_KEYS": ["/no/such/key.pem"]}},
    "tokenkit.W001": {
        "tokenkit": {"CACHE_ALIAS": "default"},
        "CACHES": {"default": {"BACKEND": LOCMEM}},
    },
    "tokenkit.E008": {
        "tokenkit": {
            "REFRESH_COOKIE": True,
            "REFRESH_COOKIE_SAMESITE": "None",
            "REFRESH_COOKIE_SECURE": False,
        }
    },
    "tokenkit.W002": {"tokenkit": {"SLIDING_THRESHOLD": timedelta(minutes=15)}},
    "tokenkit.W003": {"tokenkit": {"REFRESH_COOKIE": True}, "without": CSRF_MIDDLEWARE},
    "tokenkit.W004": {"tokenkit": {}, "CORS_EXPOSE_HEADERS": ["X-New-Token"]},
    "tokenkit.W005": {
        "tokenkit": {"CACHE_ALIAS": "tracking"},
        "CACHES": {
            "default": {"BACKEND": LOCMEM},
            "tracking": {
                **SHARED_CACHE,
                "OPTIONS": {"CONNECTION_POOL_KWARGS": {"protocol": 3, "cache_config": object()}},
            },
        },
    },
    "tokenkit.E009": {
        "tokenkit": {"CACHE_ALIAS": "memcached", "REVOCATION_LEASE": 0.05},
        "CACHES": {
            "default": {"BACKEND": LOCMEM},
            "memcached": {"BACKEND": MEMCACHED, "LOCATION": "127.0.0.1:11211"},
        },
    },
    "tokenkit.E010": {
        "tokenkit": {},
        "CACHES": {
            "default": {"BACKEND": LOCMEM},
            "tokenkit": {
                **SHARED_CACHE,
                "LOCATION": ["redis://primary:6379/3", "redis://replica:6379/3"],
            },
        },
    },
    "tokenkit.W006": {
        "tokenkit": {},
        "REST_FRAMEWORK": {
            "DEFAULT_AUTHENTICATION_CLASSES": [
                "rest_framework.authentication.SessionAuthentication"
            ]
        },
    },
    "tokenkit.E016": {
        "tokenkit": {},
        "INSTALLED_APPS": [app for app in base_settings.INSTALLED_APPS if app != "rest_framework"],
    },
    "tokenkit.W007": {"tokenkit": {"SIGNING_KEYS": None}},
    "tokenkit.E017": {"tokenkit": {"CUSTOM_CLAIMS": "tests.testapp.claims.reserved_claims"}},
    "tokenkit.W008": {"tokenkit": {"SIMPLEJWT_TRANSITION": True}},
}


def test_check_ids_clean_configuration_passes_every_check(settings: Any) -> None:
    configure(settings)

    assert run_checks() == []


@pytest.mark.parametrize("check_id", sorted(FAILING))
def test_check_ids_failing_configuration_emits_exactly_its_id(settings: Any, check_id: str) -> None:
    case = dict(FAILING[check_id])
    configure(settings, case.pop("tokenkit"), **case)

    assert ids(run_checks()) == [check_id]


def test_check_ids_registry_lists_every_emitted_id() -> None:
    assert set(FAILING) == set(REGISTRY) == set(CHECK_IDS)


@pytest.mark.parametrize("function", CHECK_FUNCTIONS, ids=lambda function: function.__name__)
def test_check_functions_are_registered_with_django(function: Any) -> None:
    assert function in django_checks.registry.registry.get_checks(include_deployment_checks=True)


def test_check_functions_found() -> None:
    assert {function.__name__ for function in CHECK_FUNCTIONS} >= {
        "check_settings",
        "check_keys",
        "check_cache",
    }


def test_check_ids_registry_entries_are_module_names_of_the_checks() -> None:
    """Each registered id is a ``CheckId`` the check functions reference by name."""
    defined = {value.id: value for value in vars(check_ids).values() if isinstance(value, CheckId)}
    used = {value.id for value in vars(checks).values() if isinstance(value, CheckId)}
    used |= {entry.id for entry in KEY_PROBLEM_IDS.values()}

    assert defined == REGISTRY
    assert used == set(REGISTRY)
    assert all(entry.id == check_id and entry.title for check_id, entry in REGISTRY.items())


@pytest.mark.parametrize("check_id", sorted(REGISTRY))
def test_check_ids_message_carries_id_and_level_of_prefix(check_id: str) -> None:
    message = REGISTRY[check_id].message("text", hint="hint")

    assert message.id == check_id
    assert message.level == (
        django_checks.WARNING if check_id.startswith("tokenkit.W") else django_checks.ERROR
    )


def test_check_ids_levels_match_prefix(settings: Any) -> None:
    for check_id, case in FAILING.items():
        case = dict(case)
        configure(settings, case.pop("tokenkit"), **case)
        (message,) = run_checks()
        expected = (
            django_checks.WARNING if check_id.startswith("tokenkit.W") else django_checks.ERROR
        )
        assert message.level == expected, check_id


# E001: shape ---------------------------------------------------------------------


@pytest.mark.parametrize("value", [None, {}])
def test_check_settings_tokenkit_unset_or_empty_passes(settings: Any, value: Any) -> None:
    # DEBUG on: the default alias may be local-memory here (W001 has its own tests).
    configure(settings, value, replace=True, SECRET_KEY=STRONG_KEY, DEBUG=True)

    # Only the deploy-time advice to give tokens a key of their own.
    assert ids(run_checks()) == ["tokenkit.W007"]


@pytest.mark.parametrize("value", ["HS256", ["ALGORITHM", "HS256"], ("a", 1), 1, True])
def test_check_settings_tokenkit_not_a_dict_is_e001(settings: Any, value: Any) -> None:
    configure(settings, value, replace=True)

    assert ids(check_settings()) == ["tokenkit.E001"]
    # The other checks stand aside rather than crash on the same mistake.
    assert check_keys() == []
    assert check_cache() == []


@pytest.mark.parametrize("key", ["ACCESS_LIFETIME", "algorithm", "SIGNING_KEY", ""])
def test_check_settings_unknown_key_is_e001(settings: Any, key: str) -> None:
    configure(settings, {key: "x"})

    messages = check_settings()

    assert ids(messages) == ["tokenkit.E001"]
    assert "ALGORITHM" in (messages[0].hint or "")


def test_check_settings_each_unknown_key_reported(settings: Any) -> None:
    configure(settings, {"FOO": 1, "BAR": 2})

    assert ids(check_settings()) == ["tokenkit.E001", "tokenkit.E001"]


# E002: types, one row per validator ------------------------------------------------


BAD_VALUES: list[tuple[str, Any]] = [
    ("ALGORITHM", 256),
    ("ALGORITHM", None),
    ("ALGORITHM", ["HS256"]),
    ("SIGNING_KEYS", STRONG_KEY),
    ("SIGNING_KEYS", []),
    ("SIGNING_KEYS", [42]),
    ("SIGNING_KEYS", [STRONG_KEY.encode()]),
    ("SIGNING_KEYS", [{"kid": "a"}]),
    ("SIGNING_KEYS", [{"kid": 1, "key": STRONG_KEY}]),
    ("SIGNING_KEYS", [{"key": STRONG_KEY, "algorithm": 256}]),
    ("SIGNING_KEYS", [{"key": STRONG_KEY, "alg": "HS256"}]),
    ("JWKS_MAX_AGE", "3600"),
    ("JWKS_MAX_AGE", None),
    ("JWKS_MIN_REFETCH_INTERVAL", "60"),
    ("JWKS_URL", "issuer.example/jwks.json"),
    ("JWKS_URL", 1),
    ("JWKS_CHECK_REVOCATION", "yes"),
    ("ISSUER", 1),
    ("ISSUER", ["https://issuer.example"]),
    ("AUDIENCE", 1),
    ("AUDIENCE", ["https://api.example"]),
    ("ROTATE_REFRESH_TOKENS", "yes"),
    ("ROTATE_REFRESH_TOKENS", 1),
    ("ROTATE_REFRESH_TOKENS", None),
    ("AUTH_HEADER_TYPES", []),
    ("AUTH_HEADER_TYPES", ""),
    ("AUTH_HEADER_TYPES", ["Bearer token"]),
    ("AUTH_HEADER_TYPES", [1]),
    ("AUTH_HEADER_TYPES", None),
    ("WWW_AUTHENTICATE_REALM", None),
    ("WWW_AUTHENTICATE_REALM", 1),
    ("MAX_TOKEN_LENGTH", 0),
    ("MAX_TOKEN_LENGTH", -5),
    ("MAX_TOKEN_LENGTH", "4096"),
    ("MAX_TOKEN_LENGTH", True),
    ("MAX_TOKEN_LENGTH", 4096.0),
    ("CACHE_ALIAS", None),
    ("CACHE_ALIAS", 1),
    ("CACHE_KEY_PREFIX", None),
    ("CACHE_KEY_PREFIX", 1),
    ("LOGIN_THROTTLE_RATE", "10"),
    ("LOGIN_THROTTLE_RATE", "ten/min"),
    ("LOGIN_THROTTLE_RATE", "0/min"),
    ("LOGIN_THROTTLE_RATE", "10/fortnight"),
    ("LOGIN_THROTTLE_RATE", "/min"),
    ("LOGIN_THROTTLE_RATE", 10),
    ("ACCESS_TOKEN_LIFETIME", "900"),
    ("ACCESS_TOKEN_LIFETIME", None),
    ("REFRESH_TOKEN_LIFETIME", True),
    ("SLIDING_THRESHOLD", [300]),
    ("SESSION_MAX_LIFETIME", "30d"),
    ("SESSION_MAX_LIFETIME", 1e300),
    ("SESSION_MAX_LIFETIME", 10**20),
    ("SESSION_IDLE_TIMEOUT", "1h"),
    ("REVOCATION_LEASE", "50ms"),
    ("REVOCATION_OUTBOX_INTERVAL", "1s"),
    ("API_TOKEN_SCOPES", ["notes:read"]),
    ("API_TOKEN_SCOPES", {"has space": "x"}),
    ("API_TOKEN_SCOPES", {'quote"': "x"}),
    ("API_TOKEN_SCOPES", {"ok": 1}),
    ("API_TOKEN_MAX_LIFETIME", "90d"),
    ("API_TOKEN_LIMIT_PER_USER", 0),
    ("API_TOKEN_LIMIT_PER_USER", "5"),
    ("API_TOKEN_LAST_USED_INTERVAL", "1m"),
    ("API_TOKEN_EXPIRY_WARNINGS", 86400),
    ("API_TOKEN_EXPIRY_WARNINGS", [0]),
    ("API_TOKEN_EXPIRY_WARNINGS", ["7d"]),
    ("API_TOKEN_REVOKE_ON_PASSWORD_CHANGE", "no"),
    ("REFRESH_GRACE_PERIOD", False),
    ("LEEWAY", float("nan")),
    ("LEEWAY", float("inf")),
    ("REVOKE_ON_PASSWORD_CHANGE", "yes"),
    ("REFRESH_COOKIE", 1),
    ("REFRESH_COOKIE_NAME", ""),
    ("REFRESH_COOKIE_NAME", "refresh token"),
    ("REFRESH_COOKIE_NAME", "a;b"),
    ("REFRESH_COOKIE_NAME", None),
    ("REFRESH_COOKIE_SECURE", "true"),
    ("REFRESH_COOKIE_SAMESITE", "lax"),
    ("REFRESH_COOKIE_SAMESITE", "none"),
    ("REFRESH_COOKIE_SAMESITE", None),
    ("REFRESH_COOKIE_PATH", "api/auth/"),
    ("REFRESH_COOKIE_PATH", 1),
    ("REFRESH_COOKIE_DOMAIN", 1),
    ("CUSTOM_CLAIMS", 1),
    ("CUSTOM_CLAIMS", ["tests.testapp.claims.role_claims"]),
    ("SIMPLEJWT_TRANSITION", "yes"),
]


def test_check_settings_bad_value_table_covers_every_validated_key() -> None:
    assert {name for name, _ in BAD_VALUES} == set(VALIDATORS) | DURATION_KEYS


@pytest.mark.parametrize(("name", "value"), BAD_VALUES)
def test_check_settings_wrong_type_is_e002(settings: Any, name: str, value: Any) -> None:
    configure(settings, {name: value})

    assert "tokenkit.E002" in ids(check_settings())


GOOD_VALUES: list[tuple[str, Any]] = [
    ("ALGORITHM", "HS512"),
    ("SIGNING_KEYS", None),
    ("SIGNING_KEYS", [{"kid": "a", "key": STRONG_KEY}, OTHER_STRONG_KEY]),
    ("SIGNING_KEYS", (STRONG_KEY,)),
    ("SIGNING_KEYS", [{"key": STRONG_KEY, "algorithm": "HS512"}]),
    ("JWKS_MAX_AGE", 300),
    ("JWKS_MIN_REFETCH_INTERVAL", timedelta(minutes=5)),
    ("JWKS_URL", "https://issuer.example/api/auth/.well-known/jwks.json"),
    ("JWKS_CHECK_REVOCATION", True),
    ("ISSUER", None),
    ("ISSUER", "https://issuer.example"),
    ("AUDIENCE", "https://api.example"),
    ("ROTATE_REFRESH_TOKENS", False),
    ("AUTH_HEADER_TYPES", "JWT"),
    ("AUTH_HEADER_TYPES", ("Bearer", "Token")),
    ("WWW_AUTHENTICATE_REALM", "example"),
    ("MAX_TOKEN_LENGTH", 8192),
    ("CACHE_ALIAS", "tokenkit"),
    ("CACHE_KEY_PREFIX", "tk"),
    ("LOGIN_THROTTLE_RATE", None),
    ("LOGIN_THROTTLE_RATE", "5/second"),
    ("LOGIN_THROTTLE_RATE", "100/hour"),
    ("LOGIN_THROTTLE_RATE", "1000/day"),
    ("ACCESS_TOKEN_LIFETIME", 600),
    ("REFRESH_TOKEN_LIFETIME", timedelta(days=1)),
    ("SLIDING_THRESHOLD", 120.5),
    ("SESSION_MAX_LIFETIME", timedelta(days=90)),
    ("SESSION_IDLE_TIMEOUT", None),
    ("REVOCATION_LEASE", None),
    ("REVOCATION_LEASE", "auto"),
    ("REVOCATION_OUTBOX_INTERVAL", 0.25),
    ("API_TOKEN_SCOPES", {"notes:read": "Read notes", "notes:write": "Write notes"}),
    ("API_TOKEN_MAX_LIFETIME", timedelta(days=90)),
    ("API_TOKEN_MAX_LIFETIME", None),
    ("API_TOKEN_LIMIT_PER_USER", 10),
    ("API_TOKEN_LAST_USED_INTERVAL", 0),
    ("API_TOKEN_EXPIRY_WARNINGS", [timedelta(days=14), 3600]),
    ("API_TOKEN_EXPIRY_WARNINGS", []),
    ("API_TOKEN_REVOKE_ON_PASSWORD_CHANGE", True),
    ("SESSION_IDLE_TIMEOUT", timedelta(hours=8)),
    ("REFRESH_GRACE_PERIOD", 10),
    ("LEEWAY", timedelta(seconds=5)),
    ("REVOKE_ON_PASSWORD_CHANGE", False),
    ("REFRESH_COOKIE", True),
    ("REFRESH_COOKIE_NAME", "refresh.token_v2"),
    ("REFRESH_COOKIE_SECURE", False),
    ("REFRESH_COOKIE_SAMESITE", "Strict"),
    ("REFRESH_COOKIE_SAMESITE", "None"),
    ("REFRESH_COOKIE_PATH", None),
    ("REFRESH_COOKIE_PATH", "/api/auth/"),
    ("REFRESH_COOKIE_DOMAIN", None),
    ("REFRESH_COOKIE_DOMAIN", ".example.com"),
    ("CUSTOM_CLAIMS", None),
    ("CUSTOM_CLAIMS", "tests.testapp.claims.role_claims"),
]


@pytest.mark.parametrize(("name", "value"), GOOD_VALUES)
def test_check_settings_valid_value_passes(settings: Any, name: str, value: Any) -> None:
    configure(settings, {name: value}, SECRET_KEY=STRONG_KEY)

    # SIGNING_KEYS None is valid; check --deploy only advises a key of its own.
    deploy_advice = (
        [check_ids.NO_SIGNING_KEYS.id] if (name, value) == ("SIGNING_KEYS", None) else []
    )
    assert [message.id for message in run_checks()] == deploy_advice


# E003: durations -------------------------------------------------------------------

MUST_BE_POSITIVE = sorted(DURATION_KEYS - checks.ZERO_ALLOWED)


@pytest.mark.parametrize("name", MUST_BE_POSITIVE)
@pytest.mark.parametrize("value", [0, timedelta(0)])
def test_check_settings_zero_lifetime_is_e003(settings: Any, name: str, value: Any) -> None:
    configure(settings, {name: value})

    assert "tokenkit.E003" in ids(check_settings())


@pytest.mark.parametrize("name", sorted(DURATION_KEYS))
@pytest.mark.parametrize("value", [-1, timedelta(seconds=-30)])
def test_check_settings_negative_duration_is_e003(settings: Any, name: str, value: Any) -> None:
    configure(settings, {name: value})

    assert "tokenkit.E003" in ids(check_settings())


@pytest.mark.parametrize("name", ["LEEWAY", "REFRESH_GRACE_PERIOD", "SLIDING_THRESHOLD"])
def test_check_settings_zero_where_allowed_passes(settings: Any, name: str) -> None:
    configure(settings, {name: 0})

    assert run_checks() == []


# E004: key strength ------------------------------------------------------------------


@pytest.mark.parametrize(("algorithm", "minimum"), [("HS256", 32), ("HS384", 48), ("HS512", 64)])
def test_check_keys_hmac_key_shorter_than_hash_is_e004(
    settings: Any, algorithm: str, minimum: int
) -> None:
    configure(settings, {"ALGORITHM": algorithm, "SIGNING_KEYS": ["k" * (minimum - 1)]})

    assert ids(check_keys()) == ["tokenkit.E004"]


@pytest.mark.parametrize(("algorithm", "minimum"), [("HS256", 32), ("HS384", 48), ("HS512", 64)])
def test_check_keys_hmac_key_of_hash_length_passes(
    settings: Any, algorithm: str, minimum: int
) -> None:
    configure(settings, {"ALGORITHM": algorithm, "SIGNING_KEYS": ["k" * minimum]})

    assert check_keys() == []


def test_check_keys_length_counts_bytes_not_characters(settings: Any) -> None:
    configure(settings, {"SIGNING_KEYS": ["é" * 16]})  # 16 characters, 32 bytes
    assert check_keys() == []

    configure(settings, {"SIGNING_KEYS": ["é" * 15 + "e"]})  # 31 bytes
    assert ids(check_keys()) == ["tokenkit.E004"]


def test_check_keys_short_verify_only_key_is_e004(settings: Any) -> None:
    configure(settings, {"SIGNING_KEYS": [STRONG_KEY, {"kid": "old", "key": "short"}]})

    assert ids(check_keys()) == ["tokenkit.E004"]


def test_check_keys_short_secret_key_without_signing_keys_is_e004(settings: Any) -> None:
    configure(settings, {"SIGNING_KEYS": None}, SECRET_KEY="too-short-secret")

    assert ids(check_keys()) == ["tokenkit.E004"]


def test_check_keys_long_secret_key_without_signing_keys_passes(settings: Any) -> None:
    configure(settings, {"SIGNING_KEYS": None}, SECRET_KEY=STRONG_KEY)

    assert check_keys() == []


def test_check_keys_secret_key_too_short_for_hs512_is_e004(settings: Any) -> None:
    configure(settings, {"ALGORITHM": "HS512", "SIGNING_KEYS": None}, SECRET_KEY="k" * 63)

    assert ids(check_keys()) == ["tokenkit.E004"]


# E005: algorithm -----------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["RS512", "none", "None", "NONE", "hs256", "PS256", ""])
def test_check_keys_unsupported_algorithm_is_e005(settings: Any, algorithm: str) -> None:
    configure(settings, {"ALGORITHM": algorithm})

    assert ids(check_keys()) == ["tokenkit.E005"]


@pytest.mark.parametrize("algorithm", ["HS256", "HS384", "HS512"])
def test_check_keys_supported_algorithm_passes(settings: Any, algorithm: str) -> None:
    configure(settings, {"ALGORITHM": algorithm})

    assert check_keys() == []


# E006: cache alias ------------------------------------------------------------------------


def test_check_cache_missing_alias_is_e006(settings: Any) -> None:
    configure(settings, {"CACHE_ALIAS": "tokens"})

    assert ids(check_cache()) == ["tokenkit.E006"]


def test_check_cache_existing_alias_passes(settings: Any) -> None:
    configure(settings, {"CACHE_ALIAS": "tokenkit"})

    assert check_cache() == []


# E007: duplicate kid ------------------------------------------------------------------------


def test_check_keys_duplicate_kid_is_e007_once_per_kid(settings: Any) -> None:
    keys = [
        {"kid": "a", "key": STRONG_KEY},
        {"kid": "a", "key": OTHER_STRONG_KEY},
        {"kid": "a", "key": "x" * 64},
        {"kid": "b", "key": STRONG_KEY},
        {"kid": "b", "key": OTHER_STRONG_KEY},
    ]
    configure(settings, {"SIGNING_KEYS": keys})

    assert ids(check_keys()) == ["tokenkit.E007", "tokenkit.E007"]


def test_check_keys_distinct_kids_and_idless_keys_pass(settings: Any) -> None:
    keys = [
        {"kid": "a", "key": STRONG_KEY},
        {"kid": "b", "key": OTHER_STRONG_KEY},
        STRONG_KEY,
        {"key": OTHER_STRONG_KEY},
    ]
    configure(settings, {"SIGNING_KEYS": keys})

    assert check_keys() == []


# W001: per-process cache ------------------------------------------------------------------


@pytest.mark.parametrize("backend", [LOCMEM, "django.core.cache.backends.dummy.DummyCache"])
def test_check_cache_per_process_cache_without_debug_is_w001(settings: Any, backend: str) -> None:
    configure(settings, {"CACHE_ALIAS": "local"})
    settings.CACHES = {**settings.CACHES, "local": {"BACKEND": backend}}

    assert ids(check_cache()) == ["tokenkit.W001"]


def test_check_cache_per_process_cache_with_debug_passes(settings: Any) -> None:
    configure(settings, {"CACHE_ALIAS": "local"}, DEBUG=True)
    settings.CACHES = {**settings.CACHES, "local": {"BACKEND": LOCMEM}}

    assert check_cache() == []


@pytest.mark.parametrize(
    "backend",
    [
        "django_redis.cache.RedisCache",
        "django.core.cache.backends.redis.RedisCache",
        "django.core.cache.backends.memcached.PyMemcacheCache",
    ],
)
def test_check_cache_shared_backend_without_debug_passes(settings: Any, backend: str) -> None:
    configure(settings, {"CACHE_ALIAS": "shared"})
    settings.CACHES = {
        **settings.CACHES,
        "shared": {"BACKEND": backend, "LOCATION": "127.0.0.1:1"},
    }

    assert check_cache() == []


def test_check_cache_only_the_tokenkit_alias_matters(settings: Any) -> None:
    configure(settings, {"CACHE_ALIAS": "tokenkit"})
    settings.CACHES = {"default": {"BACKEND": LOCMEM}, "tokenkit": SHARED_CACHE}

    assert check_cache() == []


# W002: sliding threshold --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("threshold", "access"), [(900, 900), (1000, 900), (timedelta(hours=1), 60)]
)
def test_check_settings_threshold_not_below_access_lifetime_is_w002(
    settings: Any, threshold: Any, access: Any
) -> None:
    configure(settings, {"SLIDING_THRESHOLD": threshold, "ACCESS_TOKEN_LIFETIME": access})

    assert ids(check_settings()) == ["tokenkit.W002"]


@pytest.mark.parametrize(("threshold", "access"), [(899, 900), (0, 60), (None, None)])
def test_check_settings_threshold_below_access_lifetime_passes(
    settings: Any, threshold: Any, access: Any
) -> None:
    overrides = {} if threshold is None else {"SLIDING_THRESHOLD": threshold}
    if access is not None:
        overrides["ACCESS_TOKEN_LIFETIME"] = access
    configure(settings, overrides)

    assert check_settings() == []


# E008, W003: refresh cookie ---------------------------------------------------------------

COOKIE_ON = {"REFRESH_COOKIE": True}


def test_check_refresh_cookie_samesite_none_without_secure_is_e008(settings: Any) -> None:
    configure(
        settings,
        {**COOKIE_ON, "REFRESH_COOKIE_SAMESITE": "None", "REFRESH_COOKIE_SECURE": False},
    )

    assert ids(run_checks()) == ["tokenkit.E008"]


@pytest.mark.parametrize(
    "cookie",
    [
        {**COOKIE_ON, "REFRESH_COOKIE_SAMESITE": "None", "REFRESH_COOKIE_SECURE": True},
        {**COOKIE_ON, "REFRESH_COOKIE_SAMESITE": "None"},
        {**COOKIE_ON, "REFRESH_COOKIE_SAMESITE": "Lax", "REFRESH_COOKIE_SECURE": False},
        {
            "REFRESH_COOKIE": False,
            "REFRESH_COOKIE_SAMESITE": "None",
            "REFRESH_COOKIE_SECURE": False,
        },
    ],
)
def test_check_refresh_cookie_secure_or_not_samesite_none_passes(
    settings: Any, cookie: dict[str, Any]
) -> None:
    configure(settings, cookie)

    assert run_checks() == []


def test_check_refresh_cookie_without_csrf_middleware_is_w003(settings: Any) -> None:
    configure(settings, COOKIE_ON, without=CSRF_MIDDLEWARE)

    assert ids(run_checks()) == ["tokenkit.W003"]


def test_check_refresh_cookie_off_without_csrf_middleware_passes(settings: Any) -> None:
    configure(settings, {"REFRESH_COOKIE": False}, without=CSRF_MIDDLEWARE)

    assert run_checks() == []


# W004: CORS expose headers ----------------------------------------------------------------


@pytest.mark.parametrize(
    "exposed",
    [["X-New-Token"], ["X-New-Token-Expires-In"], ["X-Request-Id"], ("X-Other",)],
)
def test_check_cors_expose_headers_missing_sliding_headers_is_w004(
    settings: Any, exposed: Any
) -> None:
    configure(settings, CORS_EXPOSE_HEADERS=exposed)

    assert ids(run_checks()) == ["tokenkit.W004"]


@pytest.mark.parametrize(
    ("exposed", "sliding"),
    [
        (["x-new-token", "X-NEW-TOKEN-EXPIRES-IN", "X-Request-Id"], True),
        ([], True),
        (None, True),
        (["X-Request-Id"], False),
    ],
    ids=["both_listed", "empty", "unset", "no_sliding_middleware"],
)
def test_check_cors_expose_headers_listed_or_not_applicable_passes(
    settings: Any, exposed: Any, sliding: bool
) -> None:
    configure(settings, without=None if sliding else SLIDING_MIDDLEWARE)
    if exposed is None:
        del settings.CORS_EXPOSE_HEADERS
    else:
        settings.CORS_EXPOSE_HEADERS = exposed

    assert run_checks() == []


# Registration: manage.py check runs them ---------------------------------------------------


@pytest.mark.parametrize(
    ("tokenkit", "check_id"),
    [
        ({"ACCESS_LIFETIME": 60}, "tokenkit.E001"),
        ({"ACCESS_TOKEN_LIFETIME": -1}, "tokenkit.E003"),
        ({"SIGNING_KEYS": ["short"]}, "tokenkit.E004"),
        ({"ALGORITHM": "none"}, "tokenkit.E005"),
        ({"CACHE_ALIAS": "missing"}, "tokenkit.E006"),
        (FAILING["tokenkit.E008"]["tokenkit"], "tokenkit.E008"),
    ],
)
def test_check_command_bad_tokenkit_raises_system_check_error(
    settings: Any, tokenkit: dict[str, Any], check_id: str
) -> None:
    configure(settings, tokenkit)

    with pytest.raises(SystemCheckError) as excinfo:
        call_command("check")
    assert check_id in str(excinfo.value)


def test_check_command_reports_tokenkit_warnings(settings: Any) -> None:
    configure(
        settings,
        {"CACHE_ALIAS": "default", "SLIDING_THRESHOLD": 900, "REFRESH_COOKIE": True},
        CACHES={"default": {"BACKEND": LOCMEM}},
        without=CSRF_MIDDLEWARE,
        CORS_EXPOSE_HEADERS=["X-Request-Id"],
    )

    with pytest.raises(SystemCheckError) as excinfo:
        call_command("check", fail_level="WARNING")
    for check_id in ("tokenkit.W001", "tokenkit.W002", "tokenkit.W003", "tokenkit.W004"):
        assert check_id in str(excinfo.value)


def test_check_command_clean_tokenkit_passes(settings: Any) -> None:
    configure(settings)

    call_command("check", fail_level="WARNING")

    assert run_checks() == []


# W005: client-side caching on tokenkit's alias --------------------------------------------


@pytest.mark.parametrize(
    "options",
    [
        {"CONNECTION_POOL_KWARGS": {"protocol": 3, "cache_config": object()}},
        {"CONNECTION_POOL_KWARGS": {"protocol": 3, "cache": object()}},
        {"cache_config": object()},
    ],
    ids=["pool_cache_config", "pool_cache", "options_cache_config"],
)
def test_check_cache_client_side_caching_is_w005(settings: Any, options: dict[str, Any]) -> None:
    configure(
        settings,
        CACHES={"default": {"BACKEND": LOCMEM}, "tokenkit": {**SHARED_CACHE, "OPTIONS": options}},
    )

    assert ids(run_checks()) == ["tokenkit.W005"]


def test_check_cache_plain_pool_options_pass(settings: Any) -> None:
    options = {"CONNECTION_POOL_KWARGS": {"max_connections": 50}, "SOCKET_TIMEOUT": 0.5}
    configure(
        settings,
        CACHES={"default": {"BACKEND": LOCMEM}, "tokenkit": {**SHARED_CACHE, "OPTIONS": options}},
    )

    assert run_checks() == []


# E009 and E003: the revocation lease ------------------------------------------------------


@pytest.mark.parametrize("backend", [DJANGO_REDIS, BUILTIN_REDIS])
def test_check_cache_revocation_lease_on_either_redis_backend_passes(
    settings: Any, backend: str
) -> None:
    configure(
        settings,
        {"REVOCATION_LEASE": timedelta(milliseconds=50)},
        CACHES={"default": {"BACKEND": LOCMEM}, "tokenkit": {**SHARED_CACHE, "BACKEND": backend}},
    )

    assert run_checks() == []


@pytest.mark.parametrize("lease", [0, -1, timedelta(0)])
def test_check_settings_revocation_lease_not_positive_is_e003(settings: Any, lease: Any) -> None:
    configure(settings, {"REVOCATION_LEASE": lease})

    assert ids(run_checks()) == ["tokenkit.E003"]


def test_check_cache_revocation_lease_on_local_memory_is_e009(settings: Any) -> None:
    configure(
        settings,
        {"REVOCATION_LEASE": 0.05},
        CACHES={"default": {"BACKEND": LOCMEM}, "tokenkit": {"BACKEND": LOCMEM}},
    )

    assert ids(run_checks()) == ["tokenkit.E009"]


@pytest.mark.parametrize("lease", [{}, {"REVOCATION_LEASE": "auto"}, {"REVOCATION_LEASE": None}])
def test_check_cache_revocation_lease_default_or_off_on_a_cache_that_is_not_redis_passes(
    settings: Any, lease: dict[str, Any]
) -> None:
    # "auto" (the default) is simply off without Redis: nothing to report.
    configure(
        settings,
        lease,
        CACHES={
            "default": {"BACKEND": LOCMEM},
            "tokenkit": {"BACKEND": MEMCACHED, "LOCATION": "x"},
        },
    )

    assert run_checks() == []


@pytest.mark.parametrize("lease", ["50ms", "on", ""])
def test_check_settings_revocation_lease_string_other_than_auto_is_e002(
    settings: Any, lease: str
) -> None:
    configure(settings, {"REVOCATION_LEASE": lease})

    assert "tokenkit.E002" in ids(run_checks())


@pytest.mark.parametrize(
    "backend", [LOCMEM, MEMCACHED, "django.core.cache.backends.db.DatabaseCache"]
)
def test_check_cache_revocation_lease_on_a_cache_that_is_not_redis_is_e009(
    settings: Any, backend: str
) -> None:
    configure(
        settings,
        {"REVOCATION_LEASE": 0.05},
        CACHES={"default": {"BACKEND": LOCMEM}, "tokenkit": {"BACKEND": backend, "LOCATION": "x"}},
    )

    messages = run_checks()

    assert ids(messages) == ["tokenkit.E009"]
    assert DJANGO_REDIS in (messages[0].hint or "")
    assert BUILTIN_REDIS in (messages[0].hint or "")


# E010: replicas ---------------------------------------------------------------------------


@pytest.mark.parametrize("backend", [DJANGO_REDIS, BUILTIN_REDIS])
@pytest.mark.parametrize(
    "location",
    [
        ["redis://primary:6379/3", "redis://replica:6379/3"],
        ("redis://primary:6379/3", "redis://replica:6379/3"),
        "redis://primary:6379/3,redis://replica:6379/3",
    ],
    ids=["list", "tuple", "comma_separated"],
)
def test_check_cache_redis_with_replicas_is_e010(
    settings: Any, backend: str, location: Any
) -> None:
    configure(
        settings,
        CACHES={
            "default": {"BACKEND": LOCMEM},
            "tokenkit": {"BACKEND": backend, "LOCATION": location},
        },
    )

    messages = run_checks()

    assert ids(messages) == ["tokenkit.E010"]
    assert "CACHE_ALIAS" in (messages[0].hint or "")


def test_check_cache_builtin_redis_with_semicolon_separated_replicas_is_e010(
    settings: Any,
) -> None:
    location = "redis://primary:6379/3;redis://replica:6379/3"
    configure(
        settings,
        CACHES={
            "default": {"BACKEND": LOCMEM},
            "tokenkit": {"BACKEND": BUILTIN_REDIS, "LOCATION": location},
        },
    )

    assert ids(run_checks()) == ["tokenkit.E010"]


def test_check_cache_django_redis_sentinel_client_reads_a_replica_is_e010(settings: Any) -> None:
    configure(
        settings,
        CACHES={
            "default": {"BACKEND": LOCMEM},
            "tokenkit": {
                **SHARED_CACHE,
                "LOCATION": "redis://mymaster/3",
                "OPTIONS": {"CLIENT_CLASS": "django_redis.client.SentinelClient"},
            },
        },
    )

    assert ids(run_checks()) == ["tokenkit.E010"]


@pytest.mark.parametrize("backend", [DJANGO_REDIS, BUILTIN_REDIS])
@pytest.mark.parametrize(
    "location", ["redis://primary:6379/3", ["redis://primary:6379/3"]], ids=["string", "list"]
)
def test_check_cache_redis_with_one_server_passes(
    settings: Any, backend: str, location: Any
) -> None:
    configure(
        settings,
        CACHES={
            "default": {"BACKEND": LOCMEM},
            "tokenkit": {"BACKEND": backend, "LOCATION": location},
        },
    )

    assert run_checks() == []


def test_check_cache_replicas_of_another_alias_pass(settings: Any) -> None:
    replicas = ["redis://primary:6379/0", "redis://replica:6379/0"]
    configure(
        settings,
        CACHES={
            "default": {"BACKEND": LOCMEM},
            "site": {"BACKEND": BUILTIN_REDIS, "LOCATION": replicas},
            "tokenkit": SHARED_CACHE,
        },
    )

    assert run_checks() == []


def test_check_cache_memcached_with_several_servers_passes(settings: Any) -> None:
    """Memcached shards keys over its servers; no server holds a stale copy to read."""
    configure(
        settings,
        CACHES={
            "default": {"BACKEND": LOCMEM},
            "tokenkit": {"BACKEND": MEMCACHED, "LOCATION": ["10.0.0.1:11211", "10.0.0.2:11211"]},
        },
    )

    assert run_checks() == []
