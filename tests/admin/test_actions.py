"""Revoking from the admin: the changelist actions and the detail pages' buttons."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from django_tokenkit import services, tokens
from django_tokenkit.models import BlacklistedToken, IssuedToken, RevokeReason, Session
from tests.admin.helpers import (
    BLACKLIST_URL,
    SESSIONS_URL,
    TOKENS_URL,
    action_post,
    make_sessions,
    revoke_url,
    sid_of,
    whoami,
)
from tests.helpers import assert_unauthorized, login


# --- the changelist actions -------------------------------------------------------
def test_session_revoke_selected_action_asks_for_confirmation_first(
    admin_client: Client, user: Any
) -> None:
    session, _other = make_sessions(2, [user])
    response = action_post(admin_client, SESSIONS_URL, "revoke_selected", [session.pk])
    assert response.status_code == 200
    html = response.content.decode()
    assert "Revoke the selected sessions?" in html
    assert str(session.pk)[:8] in html
    assert 'name="post" value="yes"' in html
    assert f'value="{session.pk}"' in html
    assert Session.objects.get(pk=session.pk).revoked_at is None


def test_session_revoke_selected_action_confirmed_revokes_at_once_via_services(
    admin_client: Client,
    user: Any,
    django_capture_on_commit_callbacks: Any,
    revoked_signals: list[dict[str, Any]],
) -> None:
    laptop = login(APIClient())
    phone = login(APIClient())
    assert whoami(phone).status_code == 200  # the session's state is now cached as active
    with django_capture_on_commit_callbacks(execute=True):
        response = action_post(
            admin_client, SESSIONS_URL, "revoke_selected", [sid_of(phone)], post="yes"
        )
    assert response.status_code == 302
    session = Session.objects.get(pk=sid_of(phone))
    assert session.revoke_reason == RevokeReason.ADMIN
    assert session.revoked_at is not None
    assert_unauthorized(whoami(phone), "token_revoked")
    assert whoami(laptop).status_code == 200
    assert [(s["unit"], s["identifier"]) for s in revoked_signals] == [("session", sid_of(phone))]
    follow = admin_client.get(response["Location"])
    assert "Revoked 1 session." in follow.content.decode()


def test_session_revoke_selected_action_with_select_across_keeps_filters(
    admin_client: Client, user: Any, other_user: Any, django_capture_on_commit_callbacks: Any
) -> None:
    mine, theirs = make_sessions(2, [user, other_user])
    url = f"{SESSIONS_URL}?q=alice"
    confirm = action_post(admin_client, url, "revoke_selected", [mine.pk], select_across="1")
    assert 'name="select_across" value="1"' in confirm.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        action_post(admin_client, url, "revoke_selected", [mine.pk], select_across="1", post="yes")
    assert Session.objects.get(pk=mine.pk).revoked_at is not None
    assert Session.objects.get(pk=theirs.pk).revoked_at is None


def test_session_revoke_users_action_revokes_every_session_of_those_users(
    admin_client: Client,
    user: Any,
    other_user: Any,
    django_capture_on_commit_callbacks: Any,
    revoked_signals: list[dict[str, Any]],
) -> None:
    first = login(APIClient())
    second = login(APIClient())
    bob = login(APIClient(), username="bob")
    confirm = action_post(admin_client, SESSIONS_URL, "revoke_users", [sid_of(first)])
    html = confirm.content.decode()
    assert "Revoke all tokens of these users?" in html
    assert "alice@example.com" in html
    assert "bob@example.com" not in html
    with django_capture_on_commit_callbacks(execute=True):
        action_post(admin_client, SESSIONS_URL, "revoke_users", [sid_of(first)], post="yes")
    assert_unauthorized(whoami(first), "token_revoked")
    assert_unauthorized(whoami(second), "token_revoked")
    assert whoami(bob).status_code == 200
    assert set(Session.objects.filter(user=user).values_list("revoke_reason", flat=True)) == {
        RevokeReason.ADMIN
    }
    assert ("user", str(user.pk)) in {(s["unit"], s["identifier"]) for s in revoked_signals}


def test_issued_token_revoke_selected_action_revokes_the_pair_not_the_session(
    admin_client: Client, user: Any, django_capture_on_commit_callbacks: Any
) -> None:
    pair = login(APIClient())
    other = login(APIClient())
    jti = tokens.decode(pair["refresh"], tokens.REFRESH).jti
    confirm = action_post(admin_client, TOKENS_URL, "revoke_selected", [jti])
    assert "Revoke the selected tokens?" in confirm.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        action_post(admin_client, TOKENS_URL, "revoke_selected", [jti], post="yes")
    assert_unauthorized(whoami(pair), "token_revoked")
    refreshed = APIClient().post(
        "/api/auth/token/refresh/", {"refresh": pair["refresh"]}, format="json"
    )
    assert_unauthorized(refreshed, "token_revoked")
    assert Session.objects.get(pk=sid_of(pair)).revoked_at is None
    assert whoami(other).status_code == 200
    assert set(BlacklistedToken.objects.values_list("reason", flat=True)) == {RevokeReason.ADMIN}


def test_issued_token_revoke_sessions_action_ends_the_session(
    admin_client: Client, user: Any, django_capture_on_commit_callbacks: Any
) -> None:
    pair = login(APIClient())
    jti = tokens.decode(pair["refresh"], tokens.REFRESH).jti
    with django_capture_on_commit_callbacks(execute=True):
        action_post(admin_client, TOKENS_URL, "revoke_sessions", [jti], post="yes")
    assert Session.objects.get(pk=sid_of(pair)).revoke_reason == RevokeReason.ADMIN
    assert_unauthorized(whoami(pair), "token_revoked")


def test_blacklist_revoke_users_action_locks_the_user_out(
    admin_client: Client, user: Any, django_capture_on_commit_callbacks: Any
) -> None:
    pair = login(APIClient())
    entry = BlacklistedToken.objects.create(
        jti="x" * 22,
        token_type="access",
        user=user,
        expires_at=timezone.now() + timedelta(minutes=5),
    )
    with django_capture_on_commit_callbacks(execute=True):
        action_post(admin_client, BLACKLIST_URL, "revoke_users", [entry.pk], post="yes")
    assert_unauthorized(whoami(pair), "token_revoked")


def test_revoke_actions_need_the_change_permission(viewer_client: Client, user: Any) -> None:
    session = make_sessions(1, [user])[0]
    response = viewer_client.get(SESSIONS_URL)
    assert response.status_code == 200
    assert "revoke_selected" not in response.content.decode()
    action_post(viewer_client, SESSIONS_URL, "revoke_selected", [session.pk], post="yes")
    assert Session.objects.get(pk=session.pk).revoked_at is None


# --- the detail page's revoke button ----------------------------------------------
def test_session_detail_page_shows_read_only_data_and_a_revoke_button(
    admin_client: Client, user: Any
) -> None:
    session = make_sessions(1, [user])[0]
    response = admin_client.get(f"{SESSIONS_URL}{session.pk}/change/")
    assert response.status_code == 200
    html = response.content.decode()
    assert f'action="{revoke_url(SESSIONS_URL, session.pk)}"' in html
    assert "Revoke this session" in html
    assert 'name="_save"' not in html  # nothing to edit
    assert "Revoke reason:" not in html  # shown once there is one
    assert "deletelink" not in html


def test_session_detail_revoke_button_post_revokes_and_redirects(
    admin_client: Client, user: Any, django_capture_on_commit_callbacks: Any
) -> None:
    pair = login(APIClient())
    whoami(pair)
    sid = sid_of(pair)
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(revoke_url(SESSIONS_URL, sid), {"scope": "session"})
    assert response.status_code == 302
    assert response["Location"] == f"{SESSIONS_URL}{sid}/change/"
    assert Session.objects.get(pk=sid).revoke_reason == RevokeReason.ADMIN
    assert_unauthorized(whoami(pair), "token_revoked")
    page = admin_client.get(response["Location"]).content.decode()
    assert "The session is revoked" in page  # the message
    assert "Revoke this session" not in page
    assert "Revoke reason:" in page
    history = admin_client.get(f"{SESSIONS_URL}{sid}/history/").content.decode()
    assert "The session is revoked" in history  # the LogEntry


def test_session_detail_revoke_user_scope_revokes_all_their_sessions(
    admin_client: Client, user: Any, django_capture_on_commit_callbacks: Any
) -> None:
    first = login(APIClient())
    second = login(APIClient())
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(revoke_url(SESSIONS_URL, sid_of(first)), {"scope": "user"})
    assert_unauthorized(whoami(second), "token_revoked")


def test_session_detail_of_an_expired_session_offers_only_the_user_button(
    admin_client: Client, user: Any
) -> None:
    session = make_sessions(1, [user])[0]
    Session.objects.filter(pk=session.pk).update(expires_at=timezone.now() - timedelta(hours=1))
    html = admin_client.get(f"{SESSIONS_URL}{session.pk}/change/").content.decode()
    assert "Revoke this session" not in html
    assert "Revoke all sessions and API tokens of this user" in html
    admin_client.post(revoke_url(SESSIONS_URL, session.pk), {"scope": "session"})
    assert Session.objects.get(pk=session.pk).revoked_at is None


def test_session_revoke_url_get_is_not_allowed(admin_client: Client, user: Any) -> None:
    session = make_sessions(1, [user])[0]
    response = admin_client.get(revoke_url(SESSIONS_URL, session.pk))
    assert response.status_code == 405
    assert Session.objects.get(pk=session.pk).revoked_at is None


def test_session_revoke_url_without_change_permission_is_403(
    viewer_client: Client, user: Any
) -> None:
    session = make_sessions(1, [user])[0]
    page = viewer_client.get(f"{SESSIONS_URL}{session.pk}/change/")
    assert page.status_code == 200
    assert "Revoke this session" not in page.content.decode()
    response = viewer_client.post(revoke_url(SESSIONS_URL, session.pk), {"scope": "session"})
    assert response.status_code == 403
    assert Session.objects.get(pk=session.pk).revoked_at is None


def test_session_revoke_url_without_csrf_token_is_403(admin_user: Any, user: Any) -> None:
    session = make_sessions(1, [user])[0]
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    response = client.post(revoke_url(SESSIONS_URL, session.pk), {"scope": "session"})
    assert response.status_code == 403
    assert Session.objects.get(pk=session.pk).revoked_at is None


def test_session_revoke_url_for_unknown_session_redirects_with_warning(
    admin_client: Client, db: Any
) -> None:
    response = admin_client.post(revoke_url(SESSIONS_URL, uuid.uuid4()), {"scope": "session"})
    assert response.status_code == 302
    assert response["Location"] == SESSIONS_URL


def test_session_revoke_url_with_unknown_scope_revokes_nothing(
    admin_client: Client, user: Any
) -> None:
    session = make_sessions(1, [user])[0]
    admin_client.post(revoke_url(SESSIONS_URL, session.pk), {"scope": "everything"})
    assert Session.objects.get(pk=session.pk).revoked_at is None


def test_issued_token_detail_revoke_token_scope_keeps_the_session(
    admin_client: Client, user: Any, django_capture_on_commit_callbacks: Any
) -> None:
    pair = login(APIClient())
    jti = tokens.decode(pair["refresh"], tokens.REFRESH).jti
    page = admin_client.get(f"{TOKENS_URL}{jti}/change/").content.decode()
    assert "Revoke this token" in page
    assert "Revoke its session" in page
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(revoke_url(TOKENS_URL, jti), {"scope": "token"})
    assert response.status_code == 302
    assert IssuedToken.objects.get(pk=jti).revoked_at is not None
    assert Session.objects.get(pk=sid_of(pair)).revoked_at is None
    assert_unauthorized(whoami(pair), "token_revoked")


def test_blacklist_detail_revoke_session_scope(
    admin_client: Client, user: Any, django_capture_on_commit_callbacks: Any
) -> None:
    pair = login(APIClient())
    access = tokens.decode(pair["access"], tokens.ACCESS)
    with django_capture_on_commit_callbacks(execute=True):
        services.revoke_token(access, RevokeReason.ADMIN)
    page = admin_client.get(f"{BLACKLIST_URL}{access.jti}/change/")
    assert page.status_code == 200
    assert "still in force" in page.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(revoke_url(BLACKLIST_URL, access.jti), {"scope": "session"})
    assert Session.objects.get(pk=access.sid).revoke_reason == RevokeReason.ADMIN
