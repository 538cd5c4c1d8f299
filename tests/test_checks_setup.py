"""The checks a newcomer's first setup trips over: each with a passing and a failing test.

DRF missing or not using ``JWTAuthentication``, ``SIGNING_KEYS`` unset under
``check --deploy``, a mistyped key ("did you mean"), a weak key when the
checks never ran (gunicorn), a custom-claims hook that cannot work, and
W001's silence under the test runner.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from django_tokenkit import services
from django_tokenkit.checks import (
    check_cache,
    check_custom_claims,
    check_deploy_signing_keys,
    check_keys,
    check_rest_framework,
    check_settings,
)
from django_tokenkit.conf import tokenkit_settings
from tests import settings as base_settings

STRONG_KEY = "s" * 64
#: 15 bytes: too short for every HMAC algorithm; four of it (60) still too short for HS512.
WEAK = "weak-key-123456"
JWT = "django_tokenkit.authentication.JWTAuthentication"
LOCMEM = "django.core.cache.backends.locmem.LocMemCache"
HOOKS = "tests.testapp.claims."


def ids(messages: list[Any]) -> list[str]:
    return [message.id for message in messages]


# W006 / E016: Django REST framework ------------------------------------------------


def test_check_rest_framework_test_settings_pass(settings: Any) -> None:
    assert check_rest_framework() == []


@pytest.mark.parametrize(
    "rest_framework",
    [
        {},
        {"DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"]},
        {"DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.TokenAuthentication"]},
    ],
    ids=["unset", "no_authentication_key", "other_class"],
)
def test_check_rest_framework_without_jwt_authentication_is_w006(
    settings: Any, rest_framework: dict[str, Any]
) -> None:
    settings.REST_FRAMEWORK = rest_framework

    (message,) = check_rest_framework()

    assert message.id == "tokenkit.W006"
    assert JWT in (message.hint or "")
    assert "DEFAULT_AUTHENTICATION_CLASSES" in (message.hint or "")


def test_check_rest_framework_jwt_among_others_passes(settings: Any) -> None:
    settings.REST_FRAMEWORK = {
        "DEFAULT_AUTHENTICATION_CLASSES": [
            "rest_framework.authentication.SessionAuthentication",
            JWT,
        ]
    }

    assert check_rest_framework() == []


def test_check_rest_framework_not_installed_is_e010(settings: Any) -> None:
    settings.INSTALLED_APPS = [
        app for app in base_settings.INSTALLED_APPS if app != "rest_framework"
    ]

    (message,) = check_rest_framework()

    assert message.id == "tokenkit.E016"
    assert "'rest_framework'" in (message.hint or "")
    assert "INSTALLED_APPS" in (message.hint or "")


# W007: check --deploy and SIGNING_KEYS ----------------------------------------------


def test_check_deploy_signing_keys_unset_is_w007_under_deploy_only(settings: Any) -> None:
    settings.TOKENKIT = {"LOGIN_THROTTLE_RATE": None}

    (message,) = check_deploy_signing_keys()
    assert message.id == "tokenkit.W007"
    assert "tokenkit_generate_key" in (message.hint or "")
    assert "SIGNING_KEYS" in (message.hint or "")
    with pytest.raises(SystemCheckError, match="tokenkit.W007"):
        call_command("check", "--deploy", fail_level="WARNING")
    call_command("check", fail_level="WARNING")  # not without --deploy


def test_check_deploy_signing_keys_set_passes(settings: Any) -> None:
    settings.TOKENKIT = {"SIGNING_KEYS": [{"kid": "2030-01", "key": STRONG_KEY}]}

    assert check_deploy_signing_keys() == []


# E001: did you mean ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("typo", "meant"),
    [
        ("ACCESS_TOKEN_LIFETIM", "ACCESS_TOKEN_LIFETIME"),
        ("SIGNING_KEY", "SIGNING_KEYS"),
        ("algorithm", "ALGORITHM"),
        ("LOGIN_THROTTLE", "LOGIN_THROTTLE_RATE"),
    ],
)
def test_check_settings_mistyped_key_hint_says_did_you_mean(
    settings: Any, typo: str, meant: str
) -> None:
    settings.TOKENKIT = {typo: 60}

    (message,) = check_settings()

    assert message.id == "tokenkit.E001"
    assert (message.hint or "").startswith(f"Did you mean {meant!r}")


def test_check_settings_unrelated_unknown_key_lists_known_keys_only(settings: Any) -> None:
    settings.TOKENKIT = {"FOO": 1}

    (message,) = check_settings()

    assert (message.hint or "").startswith("Known keys: ")


# E004 and the same rule at run time --------------------------------------------------


def test_check_keys_short_key_hint_names_the_command_and_setting(settings: Any) -> None:
    settings.TOKENKIT = {"SIGNING_KEYS": ["short"]}

    (message,) = check_keys()

    assert message.id == "tokenkit.E004"
    assert "tokenkit_generate_key" in (message.hint or "")
    assert "SIGNING_KEYS" in (message.hint or "")


@pytest.mark.parametrize(
    ("tokenkit", "secret_key"),
    [
        ({"SIGNING_KEYS": [WEAK]}, base_settings.SECRET_KEY),
        ({"SIGNING_KEYS": [STRONG_KEY, {"kid": "old", "key": WEAK}]}, base_settings.SECRET_KEY),
        ({"SIGNING_KEYS": None}, WEAK),
        ({"ALGORITHM": "HS512", "SIGNING_KEYS": [WEAK * 4]}, base_settings.SECRET_KEY),
    ],
    ids=["short_signing_key", "short_verify_key", "short_secret_key", "short_for_hs512"],
)
def test_settings_signing_keys_weak_key_refused_at_run_time(
    settings: Any, user: Any, tokenkit: dict[str, Any], secret_key: str
) -> None:
    """gunicorn runs no checks: the first login must not sign with a weak key."""
    settings.SECRET_KEY = secret_key
    settings.TOKENKIT = tokenkit

    with pytest.raises(ImproperlyConfigured, match="tokenkit_generate_key") as excinfo:
        services.login(user)
    assert "SIGNING_KEYS" in str(excinfo.value)
    assert WEAK not in str(excinfo.value)  # a key is never echoed


def test_settings_signing_keys_strong_keys_accepted_at_run_time(settings: Any) -> None:
    settings.TOKENKIT = {"ALGORITHM": "HS512", "SIGNING_KEYS": ["k" * 64]}

    assert [entry.signer for entry in tokenkit_settings.signing_keys] == ["k" * 64]


# E017: custom claims -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("tests.testapp.nowhere.claims", "cannot be imported"),
        (HOOKS + "missing", "cannot be imported"),
        (HOOKS + "NOT_CALLABLE", "is not callable"),
        (HOOKS + "reserved_claims", "reserved claim(s) sub"),
        (HOOKS + "not_json", "JSON"),
        (HOOKS + "not_a_dict", "must return a dict"),
    ],
)
def test_check_custom_claims_unusable_hook_is_e011(settings: Any, path: str, problem: str) -> None:
    settings.TOKENKIT = {"CUSTOM_CLAIMS": path}

    (message,) = check_custom_claims()

    assert message.id == "tokenkit.E017"
    assert problem in message.msg
    assert "CUSTOM_CLAIMS" in (message.hint or "")
    assert "sub" in (message.hint or "")


@pytest.mark.parametrize("hook", ["role_claims", "needs_saved_user"])
def test_check_custom_claims_usable_hook_passes(settings: Any, hook: str) -> None:
    settings.TOKENKIT = {"CUSTOM_CLAIMS": HOOKS + hook}

    assert check_custom_claims() == []


def test_check_custom_claims_unset_passes(settings: Any) -> None:
    settings.TOKENKIT = {}

    assert check_custom_claims() == []


# W001 under the test runner ----------------------------------------------------------


def test_check_cache_locmem_under_test_runner_is_silent(settings: Any) -> None:
    assert hasattr(mail, "outbox")  # pytest-django ran setup_test_environment
    settings.DEBUG = False
    settings.CACHES = {"default": {"BACKEND": LOCMEM}}
    settings.TOKENKIT = {}

    assert check_cache() == []


def test_check_cache_locmem_outside_test_runner_is_w001(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delattr(mail, "outbox")
    settings.DEBUG = False
    settings.CACHES = {"default": {"BACKEND": LOCMEM}}
    settings.TOKENKIT = {}

    assert ids(check_cache()) == ["tokenkit.W001"]


def test_check_cache_dummy_under_test_runner_is_still_w001(settings: Any) -> None:
    settings.DEBUG = False
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
    settings.TOKENKIT = {}

    assert ids(check_cache()) == ["tokenkit.W001"]
