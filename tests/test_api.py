"""The stable Python API (django_tokenkit.api) and the test helper (django_tokenkit.testing)."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

import django_tokenkit
from django_tokenkit import api, signals, tokens
from django_tokenkit.models import IssuedToken, Session
from django_tokenkit.testing import authenticate, unauthenticate
from tests.helpers import WHOAMI_URL, assert_unauthorized, whoami

REFRESH_URL = "/api/auth/token/refresh/"


def test_issue_tokens_pair_authenticates_and_records_a_session(
    api_client: APIClient, user: Any
) -> None:
    received: list[Any] = []

    def receiver(**kwargs: Any) -> None:
        received.append(kwargs["user"])

    signals.token_obtained.connect(receiver)
    try:
        pair = api.issue_tokens(user)
    finally:
        signals.token_obtained.disconnect(receiver)

    assert whoami(api_client, pair.access).json()["username"] == "alice"
    assert [session.sid for session in Session.objects.filter(user=user)] == [pair.access_token.sid]
    assert pair.as_response_data()["token_type"] == "Bearer"
    assert received == [user]


def test_package_lends_the_api_names_lazily() -> None:
    assert django_tokenkit.issue_tokens is api.issue_tokens
    assert django_tokenkit.revoke_user is api.revoke_user
    with pytest.raises(AttributeError):
        _ = django_tokenkit.no_such_name


def test_package_import_imports_no_django() -> None:
    code = "import sys, django_tokenkit; print('django' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )

    assert result.stdout.strip() == "False"


def test_revoke_user_ends_every_session(api_client: APIClient, user: Any) -> None:
    first, second = api.issue_tokens(user), api.issue_tokens(user)

    assert api.revoke_user(user) == 2
    assert api.revoke_user(user) == 0
    assert_unauthorized(whoami(api_client, first.access), "token_revoked")
    assert_unauthorized(whoami(api_client, second.access), "token_revoked")


def test_revoke_session_ends_only_that_session(api_client: APIClient, user: Any) -> None:
    ended, kept = api.issue_tokens(user), api.issue_tokens(user)

    assert api.revoke_session(ended.access_token.sid) is True
    assert api.revoke_session(ended.access_token.sid) is False
    assert_unauthorized(whoami(api_client, ended.access), "token_revoked")
    assert whoami(api_client, kept.access).status_code == 200


def test_revoke_token_ends_one_token_session_continues(api_client: APIClient, user: Any) -> None:
    pair = api.issue_tokens(user)

    assert api.revoke_token(pair.access_token.jti) is True
    assert api.revoke_token(pair.access_token.jti) is False
    assert_unauthorized(whoami(api_client, pair.access), "token_revoked")
    refreshed = api_client.post(
        "/api/auth/token/refresh/", {"refresh": pair.refresh}, format="json"
    )
    assert refreshed.status_code == 200


def test_revoke_token_unknown_jti_raises(user: Any) -> None:
    with pytest.raises(IssuedToken.DoesNotExist):
        api.revoke_token(tokens.new_jti())


def test_revoke_user_with_api_tokens_ends_them_too(
    api_client: APIClient, user: Any, django_capture_on_commit_callbacks: Any
) -> None:
    created = api.create_api_token(user, name="job", expires_in=None, scopes=["notes:read"])
    api.issue_tokens(user)
    assert whoami(api_client, created.token).status_code == 200
    assert created.record.scopes == ["notes:read"]

    with django_capture_on_commit_callbacks(execute=True):  # publishes to the cache
        assert api.revoke_user(user, api_tokens=True) == 1
    assert_unauthorized(whoami(api_client, created.token), "token_revoked")


@pytest.mark.parametrize("client_class", [Client, APIClient])
def test_authenticate_client_signed_in_without_login(client_class: type[Client], user: Any) -> None:
    client = client_class()

    pair = authenticate(client, user)

    response = client.get(WHOAMI_URL)
    assert response.status_code == 200
    assert response.json()["username"] == "alice"
    assert tokens.decode(pair.access, tokens.ACCESS).sub == str(user.pk)
    unauthenticate(client)
    assert client.get(WHOAMI_URL).status_code == 401
