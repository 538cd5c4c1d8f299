"""CUSTOM_CLAIMS: computed once per login, carried by refresh, replay and sliding renewal."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from rest_framework.test import APIClient

from django_tokenkit import api, tokens
from django_tokenkit.services import sliding
from tests.helpers import login, whoami
from tests.testapp import claims as hooks

REFRESH_URL = "/api/auth/token/refresh/"
HOOKS = "tests.testapp.claims."


@pytest.fixture
def role_hook(settings: Any) -> Iterator[None]:
    settings.TOKENKIT = {**settings.TOKENKIT, "CUSTOM_CLAIMS": "tests.testapp.claims.role_claims"}
    hooks.ROLE["value"] = "editor"
    yield
    hooks.ROLE["value"] = "editor"


def claims_of(raw: str, token_type: tokens.TokenType = tokens.ACCESS) -> dict[str, Any]:
    return dict(tokens.decode(raw, token_type).claims)


def refresh(client: APIClient, raw: str) -> Any:
    return client.post(REFRESH_URL, {"refresh": raw}, format="json")


def test_login_custom_claims_in_access_and_refresh_token(
    role_hook: None, api_client: APIClient, user: Any
) -> None:
    pair = login(api_client)

    assert claims_of(pair["access"])["role"] == "editor"
    assert claims_of(pair["access"])["username"] == "alice"
    assert claims_of(pair["refresh"], tokens.REFRESH)["role"] == "editor"
    assert whoami(api_client, pair).status_code == 200


def test_login_without_hook_adds_no_claims(api_client: APIClient, user: Any) -> None:
    pair = login(api_client)

    assert set(claims_of(pair["access"])) == set(tokens.REQUIRED_CLAIMS)


def test_refresh_custom_claims_carried_not_recomputed(
    role_hook: None, api_client: APIClient, user: Any
) -> None:
    pair = login(api_client)
    hooks.ROLE["value"] = "admin"  # would show if refresh called the hook again

    response = refresh(api_client, pair["refresh"])

    assert response.status_code == 200
    assert claims_of(response.json()["access"])["role"] == "editor"
    assert claims_of(response.json()["refresh"], tokens.REFRESH)["role"] == "editor"


def test_refresh_grace_period_replay_same_bytes_with_custom_claims(
    role_hook: None, frozen: Any, api_client: APIClient, user: Any
) -> None:
    pair = login(api_client)
    first = refresh(api_client, pair["refresh"])
    frozen.shift(timedelta(seconds=5))  # within REFRESH_GRACE_PERIOD

    replay = refresh(api_client, pair["refresh"])

    assert replay.status_code == 200
    assert replay.json() == first.json()
    assert claims_of(replay.json()["access"])["role"] == "editor"


def test_refresh_without_rotation_keeps_custom_claims(
    role_hook: None, settings: Any, api_client: APIClient, user: Any
) -> None:
    settings.TOKENKIT = {**settings.TOKENKIT, "ROTATE_REFRESH_TOKENS": False}
    pair = login(api_client)

    response = refresh(api_client, pair["refresh"])

    assert response.status_code == 200
    assert response.json()["refresh"] == pair["refresh"]
    assert claims_of(response.json()["access"])["role"] == "editor"


def test_sliding_renewal_carries_custom_claims(
    role_hook: None, frozen: Any, api_client: APIClient, user: Any
) -> None:
    pair = login(api_client)
    frozen.shift(timedelta(minutes=11))  # 4 of 15 minutes left: within the threshold
    hooks.ROLE["value"] = "admin"

    response = whoami(api_client, pair)
    renewed = response["X-New-Token"]

    assert claims_of(renewed)["role"] == "editor"
    assert claims_of(renewed)["username"] == "alice"
    # Another process renewing the same old token signs the same bytes.
    again = sliding.renew_access_token(tokens.decode(pair["access"], tokens.ACCESS))
    assert again is not None
    assert again[0] == renewed


def test_login_reserved_custom_claim_refused_at_run_time(
    settings: Any, api_client: APIClient, user: Any
) -> None:
    settings.TOKENKIT = {
        **settings.TOKENKIT,
        "CUSTOM_CLAIMS": "tests.testapp.claims.reserved_claims",
    }

    with pytest.raises(ImproperlyConfigured, match="reserved claim"):
        api.issue_tokens(user)


@pytest.mark.parametrize("hook", ["not_json", "not_a_dict", "NOT_CALLABLE", "missing"])
def test_issue_tokens_unusable_hook_refused_at_run_time(
    settings: Any, user: Any, hook: str
) -> None:
    settings.TOKENKIT = {**settings.TOKENKIT, "CUSTOM_CLAIMS": f"tests.testapp.claims.{hook}"}

    with pytest.raises(ImproperlyConfigured, match="CUSTOM_CLAIMS"):
        api.issue_tokens(user)
