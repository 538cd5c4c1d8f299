"""Password changes and deactivation revoke every session (SPEC section 6)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from django_tokenkit import services, signals
from django_tokenkit.models import RevokeReason, Session
from tests.helpers import login, whoami


@pytest.fixture
def two_sessions(api_client: APIClient, user: Any) -> list[dict[str, Any]]:
    pairs = [login(api_client), login(APIClient())]
    for pair in pairs:
        assert whoami(api_client, pair).status_code == 200  # cached as active
    return pairs


def test_password_change_revokes_every_session(
    api_client: APIClient,
    user: Any,
    two_sessions: list[dict[str, Any]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        user.set_password("a new password entirely")
        user.save()
    for pair in two_sessions:
        assert whoami(api_client, pair).json()["code"] == "token_revoked"
        refreshed = api_client.post(
            "/api/auth/token/refresh/", {"refresh": pair["refresh"]}, format="json"
        )
        assert refreshed.json()["code"] == "token_revoked"
    assert set(Session.objects.values_list("revoke_reason", flat=True)) == {
        RevokeReason.PASSWORD_CHANGE
    }


def test_password_change_with_setting_off_keeps_sessions(
    api_client: APIClient,
    user: Any,
    two_sessions: list[dict[str, Any]],
    settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.TOKENKIT = {**settings.TOKENKIT, "REVOKE_ON_PASSWORD_CHANGE": False}
    with django_capture_on_commit_callbacks(execute=True):
        user.set_password("a new password entirely")
        user.save()
    assert whoami(api_client, two_sessions[0]).status_code == 200


def test_deactivation_revokes_every_session_even_with_setting_off(
    api_client: APIClient,
    user: Any,
    two_sessions: list[dict[str, Any]],
    settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.TOKENKIT = {**settings.TOKENKIT, "REVOKE_ON_PASSWORD_CHANGE": False}
    with django_capture_on_commit_callbacks(execute=True):
        user.is_active = False
        user.save()
    user.is_active = True
    get_user_model().objects.filter(pk=user.pk).update(is_active=True)  # re-activated
    for pair in two_sessions:
        assert whoami(api_client, pair).json()["code"] == "token_revoked"
    assert set(Session.objects.values_list("revoke_reason", flat=True)) == {
        RevokeReason.USER_DEACTIVATED
    }


def test_unrelated_user_save_keeps_sessions_and_refreshes_cached_user(
    api_client: APIClient,
    user: Any,
    two_sessions: list[dict[str, Any]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        user.username = "alice2"
        user.save()
    response = whoami(api_client, two_sessions[0])
    assert response.status_code == 200
    assert response.json()["username"] == "alice2"  # the cached copy was dropped


def test_last_login_update_costs_no_extra_query(user: Any, django_assert_num_queries: Any) -> None:
    with django_assert_num_queries(1):
        user.save(update_fields=["last_login"])


def test_deleted_user_tokens_are_revoked(
    api_client: APIClient, user: Any, two_sessions: list[dict[str, Any]]
) -> None:
    user.delete()
    assert whoami(api_client, two_sessions[0]).json()["code"] == "token_revoked"


def test_password_hash_upgrade_at_login_keeps_other_sessions(
    api_client: APIClient,
    user: Any,
    two_sessions: list[dict[str, Any]],
    settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    """Django re-hashes with a new hasher at login; that is no password change."""

    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.MD5PasswordHasher",
    ]
    with django_capture_on_commit_callbacks(execute=True):
        login(APIClient())
    user.refresh_from_db()
    assert user.password.startswith("pbkdf2_sha256$")  # the upgrade happened
    assert whoami(api_client, two_sessions[0]).status_code == 200


def test_revoke_user_with_nothing_left_sends_no_signal(
    user: Any, django_capture_on_commit_callbacks: Any
) -> None:
    fired: list[dict[str, Any]] = []

    def receiver(**kwargs: Any) -> None:
        fired.append(kwargs)

    signals.token_revoked.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            assert services.revoke_user(user, RevokeReason.ADMIN) == 0
    finally:
        signals.token_revoked.disconnect(receiver)
    assert fired == []
