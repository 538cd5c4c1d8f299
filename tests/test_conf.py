"""The lazy, typed settings object over ``TOKENKIT`` (SPEC section 4 defaults)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from django_tokenkit.conf import DEFAULTS, DURATION_KEYS, tokenkit_settings
from django_tokenkit.validators import BUILTIN_REDIS_BACKEND, DJANGO_REDIS_BACKEND
from tests.redis_backends import REDIS_BACKENDS, redis_cache_config

LONG_KEY = "k" * 48

DURATION_PROPERTIES = {
    "ACCESS_TOKEN_LIFETIME": "access_token_lifetime",
    "REFRESH_TOKEN_LIFETIME": "refresh_token_lifetime",
    "SLIDING_THRESHOLD": "sliding_threshold",
    "SESSION_MAX_LIFETIME": "session_max_lifetime",
    "SESSION_IDLE_TIMEOUT": "session_idle_timeout",
    "REVOCATION_LEASE": "revocation_lease",
    "REVOCATION_OUTBOX_INTERVAL": "revocation_outbox_interval",
    "API_TOKEN_MAX_LIFETIME": "api_token_max_lifetime",
    "API_TOKEN_LAST_USED_INTERVAL": "api_token_last_used_interval",
    "REFRESH_GRACE_PERIOD": "refresh_grace_period",
    "LEEWAY": "leeway",
    "JWKS_MAX_AGE": "jwks_max_age",
    "JWKS_MIN_REFETCH_INTERVAL": "jwks_min_refetch_interval",
}


@pytest.fixture(params=["unset", "none", "empty"])
def no_tokenkit(request: pytest.FixtureRequest, settings: Any) -> None:
    """TOKENKIT missing, None or empty: all mean "every default"."""
    if request.param == "unset":
        del settings.TOKENKIT
    else:
        settings.TOKENKIT = None if request.param == "none" else {}


def test_settings_defaults_match_spec(no_tokenkit: None) -> None:
    assert tokenkit_settings.access_token_lifetime == timedelta(minutes=15)
    assert tokenkit_settings.refresh_token_lifetime == timedelta(days=7)
    assert tokenkit_settings.sliding_threshold == timedelta(minutes=5)
    assert tokenkit_settings.session_max_lifetime == timedelta(days=30)
    assert tokenkit_settings.session_idle_timeout is None
    assert tokenkit_settings.refresh_grace_period == timedelta(seconds=30)
    assert tokenkit_settings.leeway == timedelta(seconds=30)
    assert tokenkit_settings.algorithm == "HS256"


def test_settings_other_defaults(no_tokenkit: None) -> None:
    assert tokenkit_settings.issuer is None
    assert tokenkit_settings.audience is None
    assert tokenkit_settings.rotate_refresh_tokens is True
    assert tokenkit_settings.auth_header_types == ("Bearer",)
    assert tokenkit_settings.www_authenticate_realm == "api"
    assert tokenkit_settings.max_token_length == 4096
    assert tokenkit_settings.cache_alias == "default"
    assert tokenkit_settings.cache_key_prefix == "tokenkit"
    assert tokenkit_settings.login_throttle_rate == "10/min"


def test_settings_every_duration_key_has_a_property() -> None:
    assert set(DURATION_PROPERTIES) == set(DURATION_KEYS)


@pytest.mark.parametrize(("name", "prop"), DURATION_PROPERTIES.items())
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (90, timedelta(seconds=90)),
        (2.5, timedelta(seconds=2.5)),
        (timedelta(hours=2), timedelta(hours=2)),
    ],
)
def test_settings_duration_as_seconds_or_timedelta_gives_timedelta(
    settings: Any, name: str, prop: str, value: Any, expected: timedelta
) -> None:
    settings.TOKENKIT = {name: value}

    assert getattr(tokenkit_settings, prop) == expected


def test_settings_idle_timeout_none_means_no_timeout(settings: Any) -> None:
    settings.TOKENKIT = {"SESSION_IDLE_TIMEOUT": None}

    assert tokenkit_settings.session_idle_timeout is None


def test_settings_fixture_change_takes_effect_immediately(settings: Any) -> None:
    settings.TOKENKIT = {"ACCESS_TOKEN_LIFETIME": 60}
    assert tokenkit_settings.access_token_lifetime == timedelta(seconds=60)

    settings.TOKENKIT = {"ACCESS_TOKEN_LIFETIME": 120, "ISSUER": "https://issuer.example"}
    assert tokenkit_settings.access_token_lifetime == timedelta(seconds=120)
    assert tokenkit_settings.issuer == "https://issuer.example"


def test_settings_override_settings_applies_and_restores() -> None:
    before = tokenkit_settings.refresh_token_lifetime

    with override_settings(TOKENKIT={"REFRESH_TOKEN_LIFETIME": timedelta(hours=1)}):
        assert tokenkit_settings.refresh_token_lifetime == timedelta(hours=1)

    assert tokenkit_settings.refresh_token_lifetime == before == timedelta(days=7)


@override_settings(TOKENKIT={"AUDIENCE": "https://api.example", "ROTATE_REFRESH_TOKENS": False})
def test_settings_override_settings_decorator_applies() -> None:
    assert tokenkit_settings.audience == "https://api.example"
    assert tokenkit_settings.rotate_refresh_tokens is False


def test_settings_unset_keys_keep_defaults_when_others_set(settings: Any) -> None:
    settings.TOKENKIT = {"LEEWAY": 0}

    assert tokenkit_settings.leeway == timedelta(0)
    assert tokenkit_settings.access_token_lifetime == timedelta(minutes=15)


def test_settings_get_unknown_name_raises_attribute_error() -> None:
    with pytest.raises(AttributeError):
        tokenkit_settings.get("ACCESS_LIFETIME")


def test_settings_get_returns_configured_value_or_default(settings: Any) -> None:
    settings.TOKENKIT = {"CACHE_ALIAS": "tokens"}

    assert tokenkit_settings.get("CACHE_ALIAS") == "tokens"
    assert tokenkit_settings.get("CACHE_KEY_PREFIX") == DEFAULTS["CACHE_KEY_PREFIX"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [("Token", ("Token",)), (["Bearer", "JWT"], ("Bearer", "JWT")), (("JWT",), ("JWT",))],
)
def test_settings_auth_header_types_string_or_list_gives_tuple(
    settings: Any, value: Any, expected: tuple[str, ...]
) -> None:
    settings.TOKENKIT = {"AUTH_HEADER_TYPES": value}

    assert tokenkit_settings.auth_header_types == expected


def test_settings_login_throttle_rate_none_disables(settings: Any) -> None:
    settings.TOKENKIT = {"LOGIN_THROTTLE_RATE": None}

    assert tokenkit_settings.login_throttle_rate is None


# Signing keys ------------------------------------------------------------------


def loaded(keys: list[Any]) -> list[tuple[str | None, Any]]:
    """Each loaded key's kid and what it signs with."""
    return [(key.kid, key.signer) for key in keys]


def test_settings_signing_keys_default_to_secret_key(settings: Any) -> None:
    settings.TOKENKIT = {}

    assert loaded(tokenkit_settings.signing_keys) == [(None, settings.SECRET_KEY)]


def test_settings_signing_keys_follow_secret_key_changes(settings: Any) -> None:
    settings.TOKENKIT = {"SIGNING_KEYS": None}
    settings.SECRET_KEY = LONG_KEY + "-rotated"

    assert loaded(tokenkit_settings.signing_keys) == [(None, LONG_KEY + "-rotated")]


def test_settings_signing_keys_string_entries_carry_no_kid(settings: Any) -> None:
    settings.TOKENKIT = {"SIGNING_KEYS": ["first" + LONG_KEY, "second" + LONG_KEY]}

    assert loaded(tokenkit_settings.signing_keys) == [
        (None, "first" + LONG_KEY),
        (None, "second" + LONG_KEY),
    ]


def test_settings_signing_keys_dict_and_mixed_entries(settings: Any) -> None:
    settings.TOKENKIT = {
        "SIGNING_KEYS": (
            {"kid": "2030-01", "key": "new" + LONG_KEY},
            {"key": "idless" + LONG_KEY},
            {"kid": "", "key": "blank" + LONG_KEY},
            "plain" + LONG_KEY,
        )
    }

    assert loaded(tokenkit_settings.signing_keys) == [
        ("2030-01", "new" + LONG_KEY),
        (None, "idless" + LONG_KEY),
        (None, "blank" + LONG_KEY),
        (None, "plain" + LONG_KEY),
    ]


# Values no code path could use --------------------------------------------------


@pytest.mark.parametrize(
    ("tokenkit", "prop", "setting"),
    [
        ("ACCESS_TOKEN_LIFETIME=900", "access_token_lifetime", "TOKENKIT"),
        (["LEEWAY", 30], "leeway", "TOKENKIT"),
        ({"ACCESS_TOKEN_LIFETIME": "900"}, "access_token_lifetime", "ACCESS_TOKEN_LIFETIME"),
        ({"ACCESS_TOKEN_LIFETIME": None}, "access_token_lifetime", "ACCESS_TOKEN_LIFETIME"),
        ({"REFRESH_TOKEN_LIFETIME": True}, "refresh_token_lifetime", "REFRESH_TOKEN_LIFETIME"),
        ({"SLIDING_THRESHOLD": [300]}, "sliding_threshold", "SLIDING_THRESHOLD"),
        ({"SESSION_MAX_LIFETIME": "30 days"}, "session_max_lifetime", "SESSION_MAX_LIFETIME"),
        ({"SESSION_IDLE_TIMEOUT": "1h"}, "session_idle_timeout", "SESSION_IDLE_TIMEOUT"),
        ({"REFRESH_GRACE_PERIOD": False}, "refresh_grace_period", "REFRESH_GRACE_PERIOD"),
        ({"LEEWAY": float("nan")}, "leeway", "LEEWAY"),
        ({"LEEWAY": float("inf")}, "leeway", "LEEWAY"),
        ({"SESSION_MAX_LIFETIME": 1e300}, "session_max_lifetime", "SESSION_MAX_LIFETIME"),
        ({"SESSION_MAX_LIFETIME": 10**20}, "session_max_lifetime", "SESSION_MAX_LIFETIME"),
        ({"SIGNING_KEYS": []}, "signing_keys", "SIGNING_KEYS"),
        ({"SIGNING_KEYS": LONG_KEY}, "signing_keys", "SIGNING_KEYS"),
        ({"SIGNING_KEYS": [42]}, "signing_keys", "SIGNING_KEYS"),
        ({"SIGNING_KEYS": [LONG_KEY.encode()]}, "signing_keys", "SIGNING_KEYS"),
        ({"SIGNING_KEYS": [{"kid": "a"}]}, "signing_keys", "SIGNING_KEYS"),
        ({"SIGNING_KEYS": [{"kid": 1, "key": LONG_KEY}]}, "signing_keys", "SIGNING_KEYS"),
        ({"SIGNING_KEYS": [{"key": None}]}, "signing_keys", "SIGNING_KEYS"),
        ({"SIGNING_KEYS": [LONG_KEY, None]}, "signing_keys", "SIGNING_KEYS"),
        ({"MAX_TOKEN_LENGTH": "4096x"}, "max_token_length", "MAX_TOKEN_LENGTH"),
        ({"MAX_TOKEN_LENGTH": None}, "max_token_length", "MAX_TOKEN_LENGTH"),
        ({"MAX_TOKEN_LENGTH": 0}, "max_token_length", "MAX_TOKEN_LENGTH"),
        ({"MAX_TOKEN_LENGTH": -1}, "max_token_length", "MAX_TOKEN_LENGTH"),
        ({"MAX_TOKEN_LENGTH": True}, "max_token_length", "MAX_TOKEN_LENGTH"),
        ({"MAX_TOKEN_LENGTH": 4096.5}, "max_token_length", "MAX_TOKEN_LENGTH"),
        ({"AUTH_HEADER_TYPES": 5}, "auth_header_types", "AUTH_HEADER_TYPES"),
        ({"AUTH_HEADER_TYPES": []}, "auth_header_types", "AUTH_HEADER_TYPES"),
        ({"AUTH_HEADER_TYPES": None}, "auth_header_types", "AUTH_HEADER_TYPES"),
        ({"AUTH_HEADER_TYPES": ["Bearer", 1]}, "auth_header_types", "AUTH_HEADER_TYPES"),
        ({"AUTH_HEADER_TYPES": ""}, "auth_header_types", "AUTH_HEADER_TYPES"),
    ],
)
def test_settings_unusable_value_raises_improperly_configured_naming_setting(
    settings: Any, tokenkit: Any, prop: str, setting: str
) -> None:
    settings.TOKENKIT = tokenkit

    with pytest.raises(ImproperlyConfigured) as excinfo:
        getattr(tokenkit_settings, prop)
    # The setting's name is the point of the message: an operator must find it.
    assert setting in str(excinfo.value)


def test_settings_kept_values_follow_override_settings() -> None:
    assert tokenkit_settings.leeway == timedelta(seconds=30)  # read, and kept

    with override_settings(TOKENKIT={"LEEWAY": 5}):
        assert tokenkit_settings.leeway == timedelta(seconds=5)
    assert tokenkit_settings.leeway == timedelta(seconds=30)


def test_settings_default_signing_key_follows_secret_key_change(settings: Any) -> None:
    settings.TOKENKIT = {}
    assert loaded(tokenkit_settings.signing_keys) == [(None, settings.SECRET_KEY)]

    settings.SECRET_KEY = LONG_KEY

    assert loaded(tokenkit_settings.signing_keys) == [(None, LONG_KEY)]


def test_settings_change_to_an_unrelated_setting_keeps_values(settings: Any) -> None:
    settings.TOKENKIT = {"ISSUER": "https://kept.example"}
    assert tokenkit_settings.issuer == "https://kept.example"

    settings.TIME_ZONE = "Europe/Paris"

    assert "issuer" in vars(tokenkit_settings)


# REVOCATION_LEASE: "auto" by default --------------------------------------------------


@pytest.mark.parametrize("backend", sorted(REDIS_BACKENDS.values()))
def test_settings_revocation_lease_default_is_50_ms_on_either_redis_backend(
    settings: Any, backend: str
) -> None:
    # Creating the redis-py client sends nothing: no Redis server is needed here.
    settings.CACHES = {"default": redis_cache_config(backend, "redis://127.0.0.1:1/0")}
    settings.TOKENKIT = {}

    assert DEFAULTS["REVOCATION_LEASE"] == "auto"
    assert tokenkit_settings.revocation_lease == timedelta(milliseconds=50)


@pytest.mark.parametrize(
    "backend",
    [
        "django.core.cache.backends.locmem.LocMemCache",
        "django.core.cache.backends.dummy.DummyCache",
        "django.core.cache.backends.db.DatabaseCache",
    ],
)
def test_settings_revocation_lease_default_is_off_on_a_cache_that_is_not_redis(
    settings: Any, backend: str
) -> None:
    settings.CACHES = {"default": {"BACKEND": backend, "LOCATION": "tokenkit_cache"}}
    settings.TOKENKIT = {}

    assert tokenkit_settings.revocation_lease is None


def test_settings_revocation_lease_none_turns_it_off_on_redis(settings: Any) -> None:
    settings.CACHES = {"default": redis_cache_config(DJANGO_REDIS_BACKEND, "redis://127.0.0.1:1/0")}
    settings.TOKENKIT = {"REVOCATION_LEASE": None}

    assert tokenkit_settings.revocation_lease is None


def test_settings_revocation_lease_auto_follows_a_change_of_caches(settings: Any) -> None:
    settings.TOKENKIT = {"REVOCATION_LEASE": "auto"}
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    assert tokenkit_settings.revocation_lease is None

    settings.CACHES = {
        "default": redis_cache_config(BUILTIN_REDIS_BACKEND, "redis://127.0.0.1:1/0")
    }

    assert tokenkit_settings.revocation_lease == timedelta(milliseconds=50)


def test_settings_revocation_lease_auto_with_no_such_cache_alias_is_off(settings: Any) -> None:
    settings.TOKENKIT = {"CACHE_ALIAS": "missing"}

    assert tokenkit_settings.revocation_lease is None
