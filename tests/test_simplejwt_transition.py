"""SIMPLEJWT_TRANSITION: tokens simplejwt minted before the switch keep users signed in.

The tokens are simplejwt's own (``RefreshToken.for_user`` with simplejwt's
settings and its blacklist app installed), exchanged through tokenkit's
refresh endpoint after the switch.
"""

from __future__ import annotations

import sys
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from django_tokenkit import tokens
from django_tokenkit.checks import check_simplejwt_transition
from django_tokenkit.models import Session
from tests.helpers import assert_unauthorized, whoami

REFRESH_URL = "/api/auth/token/refresh/"


@pytest.fixture
def transition(settings: Any) -> None:
    settings.TOKENKIT = {**settings.TOKENKIT, "SIMPLEJWT_TRANSITION": True}


def refresh(client: APIClient, raw: str) -> Any:
    return client.post(REFRESH_URL, {"refresh": raw}, format="json")


def test_transition_refresh_token_exchanged_once_for_a_tokenkit_pair(
    transition: None, api_client: APIClient, user: Any, django_capture_on_commit_callbacks: Any
) -> None:
    before_switch = str(RefreshToken.for_user(user))

    response = refresh(api_client, before_switch)

    assert response.status_code == 200, response.content
    pair = response.json()
    access = tokens.decode(pair["access"], tokens.ACCESS)
    assert access.sub == str(user.pk)
    assert Session.objects.filter(user=user).count() == 1  # a new session
    assert whoami(api_client, pair).status_code == 200
    assert refresh(api_client, pair["refresh"]).status_code == 200  # a normal tokenkit pair
    with django_capture_on_commit_callbacks(execute=True):
        reused = refresh(api_client, before_switch)
    assert_unauthorized(reused, "token_reused")
    # The reuse ends the session the exchange started, as tokenkit's reuse detection does.
    assert_unauthorized(whoami(api_client, pair), "token_revoked")


def test_transition_blacklisted_simplejwt_token_refused(
    transition: None, api_client: APIClient, user: Any
) -> None:
    token = RefreshToken.for_user(user)
    token.blacklist()  # simplejwt's own logout

    assert_unauthorized(refresh(api_client, str(token)), "token_revoked")
    assert Session.objects.count() == 0


def test_transition_expired_simplejwt_refresh_token_is_token_expired(
    transition: None, api_client: APIClient, user: Any, frozen: Any
) -> None:
    token = str(RefreshToken.for_user(user))
    frozen.shift(timedelta(days=2))  # past simplejwt's 1-day default

    assert_unauthorized(refresh(api_client, token), "token_expired")


def test_transition_forged_simplejwt_token_invalid(
    transition: None, settings: Any, api_client: APIClient, user: Any
) -> None:
    forged = RefreshToken.for_user(user)
    raw = str(forged)[:-4] + ("AAAA" if not str(forged).endswith("AAAA") else "BBBB")

    assert_unauthorized(refresh(api_client, raw), "token_invalid")


def test_transition_inactive_user_refused(
    transition: None, api_client: APIClient, user: Any
) -> None:
    token = str(RefreshToken.for_user(user))
    user.is_active = False
    user.save()

    assert_unauthorized(refresh(api_client, token), "token_revoked")


def test_transition_simplejwt_access_token_authenticates_until_it_expires(
    transition: None, api_client: APIClient, user: Any, frozen: Any
) -> None:
    access = str(RefreshToken.for_user(user).access_token)

    response = whoami(api_client, access)
    assert response.status_code == 200
    assert "X-New-Token" not in response  # never renewed: it ends at its own expiry
    frozen.shift(timedelta(minutes=6))  # simplejwt's access lifetime is 5 minutes
    assert_unauthorized(whoami(api_client, access), "token_expired")


def test_transition_off_simplejwt_tokens_refused(api_client: APIClient, user: Any) -> None:
    token = RefreshToken.for_user(user)

    assert_unauthorized(refresh(api_client, str(token)), "token_invalid")
    assert_unauthorized(whoami(api_client, str(token.access_token)), "token_invalid")


def test_check_simplejwt_transition_on_is_w008(transition: None) -> None:
    (message,) = check_simplejwt_transition()

    assert message.id == "tokenkit.W008"
    assert "SIMPLEJWT_TRANSITION" in (message.hint or "")
    with pytest.raises(SystemCheckError, match="tokenkit.W008"):
        call_command("check", fail_level="WARNING")


def test_check_simplejwt_transition_off_passes(settings: Any) -> None:
    settings.TOKENKIT = {**settings.TOKENKIT, "SIMPLEJWT_TRANSITION": False}

    assert check_simplejwt_transition() == []


def test_check_simplejwt_transition_without_simplejwt_is_w008_saying_so(
    transition: None, monkeypatch: pytest.MonkeyPatch, api_client: APIClient, user: Any
) -> None:
    token = str(RefreshToken.for_user(user))
    monkeypatch.setitem(sys.modules, "rest_framework_simplejwt.tokens", None)

    (message,) = check_simplejwt_transition()

    assert message.id == "tokenkit.W008"
    assert "cannot be imported" in message.msg
    assert_unauthorized(refresh(api_client, token), "token_invalid")  # never a 500
