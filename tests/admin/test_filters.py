"""The admin list filters: status by each model's own rule, date, user and session."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from django_tokenkit import services, tokens
from django_tokenkit.models import BlacklistedToken, RevokeReason, Session
from tests.admin.helpers import (
    BLACKLIST_URL,
    SESSIONS_URL,
    TOKENS_URL,
    make_sessions,
)
from tests.helpers import login


# --- filters ----------------------------------------------------------------------
@pytest.fixture
def three_sessions(user: Any) -> dict[str, Session]:
    """An active, an expired and a revoked session of alice."""
    active, expired, revoked = make_sessions(3, [user])
    Session.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(days=1))
    services.revoke_sessions([revoked], RevokeReason.LOGOUT)
    return {"active": active, "expired": expired, "revoked": revoked}


@pytest.mark.parametrize("status", ["active", "expired", "revoked"])
def test_session_changelist_status_filter_lists_only_that_status(
    admin_client: Client, three_sessions: dict[str, Session], status: str
) -> None:
    response = admin_client.get(SESSIONS_URL, {"status": status})
    assert response.status_code == 200
    shown = {row.pk for row in response.context["cl"].result_list}
    assert shown == {three_sessions[status].pk}


def test_issued_token_changelist_status_filter_tells_rotated_from_active(
    admin_client: Client, user: Any
) -> None:
    pair = login(APIClient())
    rotated_jti = tokens.decode(pair["refresh"], tokens.REFRESH).jti
    fresh = services.refresh(pair["refresh"])
    fresh_jti = fresh.refresh_token.jti

    def shown(status: str) -> set[str]:
        response = admin_client.get(TOKENS_URL, {"status": status})
        return {row.pk for row in response.context["cl"].result_list}

    assert shown("rotated") == {rotated_jti}
    assert shown("active") == {fresh_jti}
    assert shown("revoked") == set()


def test_blacklist_changelist_status_and_type_filters(admin_client: Client, user: Any) -> None:
    now = timezone.now()
    BlacklistedToken.objects.create(
        jti="in-force", token_type="access", user=user, expires_at=now + timedelta(minutes=5)
    )
    BlacklistedToken.objects.create(
        jti="expired", token_type="refresh", user=user, expires_at=now - timedelta(minutes=5)
    )

    def shown(**params: str) -> set[str]:
        response = admin_client.get(BLACKLIST_URL, params)
        return {row.pk for row in response.context["cl"].result_list}

    assert shown(status="in_force") == {"in-force"}
    assert shown(status="expired") == {"expired"}
    assert shown(token_type__exact="refresh") == {"expired"}


def test_session_changelist_date_filter_on_created(admin_client: Client, user: Any) -> None:
    old, new = make_sessions(2, [user])
    Session.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=30))
    since = str(timezone.now() - timedelta(days=7))  # as DateFieldListFilter links it
    response = admin_client.get(SESSIONS_URL, {"created_at__gte": since})
    assert {row.pk for row in response.context["cl"].result_list} == {new.pk}


def test_session_changelist_user_filter_narrows_and_names_the_user(
    admin_client: Client, user: Any, other_user: Any
) -> None:
    mine, theirs = make_sessions(2, [user, other_user])
    response = admin_client.get(SESSIONS_URL, {"user": str(other_user.pk)})
    assert {row.pk for row in response.context["cl"].result_list} == {theirs.pk}
    assert "By user" in response.content.decode() or "bob" in response.content.decode()


def test_session_changelist_user_filter_with_garbage_redirects_with_error(
    admin_client: Client, db: Any
) -> None:
    response = admin_client.get(SESSIONS_URL, {"user": "not-a-pk"})
    assert response.status_code == 302
    assert "e=1" in response["Location"]


def test_issued_token_changelist_session_filter(admin_client: Client, user: Any) -> None:
    first, second = make_sessions(2, [user])
    response = admin_client.get(TOKENS_URL, {"session": str(first.pk)})
    rows = response.context["cl"].result_list
    assert rows
    assert {row.session_id for row in rows} == {first.pk}
