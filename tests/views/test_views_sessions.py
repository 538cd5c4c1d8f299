"""``GET sessions/`` and ``DELETE sessions/<id>/`` (SPEC section 5)."""

from __future__ import annotations

import uuid
from typing import Any

from rest_framework.test import APIClient

from django_tokenkit import tokens
from django_tokenkit.models import RevokeReason, Session
from tests.helpers import bearer, login


def test_sessions_list_shows_active_sessions_and_marks_current(
    api_client: APIClient, user: Any
) -> None:
    first = login(APIClient(REMOTE_ADDR="203.0.113.7", HTTP_USER_AGENT="Firefox/140"))
    second = login(api_client)
    response = api_client.get("/api/auth/sessions/", **bearer(second["access"]))
    assert response.status_code == 200
    rows = {row["id"]: row for row in response.json()}
    first_sid = tokens.decode(first["access"], tokens.ACCESS).sid
    second_sid = tokens.decode(second["access"], tokens.ACCESS).sid
    assert set(rows) == {first_sid, second_sid}
    assert rows[second_sid]["current"] is True
    assert rows[first_sid]["current"] is False
    assert rows[first_sid]["ip"] == "203.0.113.7"
    assert rows[first_sid]["user_agent"] == "Firefox/140"
    assert {"created", "last_used", "expires"} <= set(rows[first_sid])


def test_sessions_list_leaves_out_revoked_and_other_users_sessions(
    api_client: APIClient, user: Any, other_user: Any, django_capture_on_commit_callbacks: Any
) -> None:
    mine = login(api_client)
    gone = login(APIClient())
    login(APIClient(), username="bob")
    with django_capture_on_commit_callbacks(execute=True):
        api_client.post("/api/auth/logout/", {"refresh": gone["refresh"]}, format="json")
    response = api_client.get("/api/auth/sessions/", **bearer(mine["access"]))
    assert [row["id"] for row in response.json()] == [
        tokens.decode(mine["access"], tokens.ACCESS).sid
    ]


def test_sessions_list_without_token_is_401(api_client: APIClient, db: Any) -> None:
    response = api_client.get("/api/auth/sessions/")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="api"'


def test_session_delete_revokes_that_session_at_once(
    api_client: APIClient, user: Any, django_capture_on_commit_callbacks: Any
) -> None:
    laptop = login(APIClient())
    phone = login(APIClient())
    phone_sid = tokens.decode(phone["access"], tokens.ACCESS).sid
    api_client.get("/api/whoami/", **bearer(phone["access"]))  # phone's state now cached as active
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.delete(f"/api/auth/sessions/{phone_sid}/", **bearer(laptop["access"]))
    assert response.status_code == 204
    revoked = api_client.get("/api/whoami/", **bearer(phone["access"]))
    assert revoked.json()["code"] == "token_revoked"
    assert api_client.get("/api/whoami/", **bearer(laptop["access"])).status_code == 200
    assert Session.objects.get(pk=phone_sid).revoke_reason == RevokeReason.USER_REQUEST


def test_session_delete_other_users_session_is_404_and_changes_nothing(
    api_client: APIClient, user: Any, other_user: Any
) -> None:
    mine = login(api_client)
    theirs = login(APIClient(), username="bob")
    their_sid = tokens.decode(theirs["access"], tokens.ACCESS).sid
    response = api_client.delete(f"/api/auth/sessions/{their_sid}/", **bearer(mine["access"]))
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert Session.objects.get(pk=their_sid).revoked_at is None


def test_session_delete_unknown_id_is_404(api_client: APIClient, user: Any) -> None:
    mine = login(api_client)
    response = api_client.delete(f"/api/auth/sessions/{uuid.uuid4()}/", **bearer(mine["access"]))
    assert response.status_code == 404


def test_session_delete_malformed_id_is_404(api_client: APIClient, user: Any) -> None:
    mine = login(api_client)
    response = api_client.delete("/api/auth/sessions/not-a-uuid/", **bearer(mine["access"]))
    assert response.status_code == 404
