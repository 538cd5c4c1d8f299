"""The admin pages (SPEC section 6, "Admin"): inspect, filter, search, revoke; at scale."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.contrib import admin as django_admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from django_tokenkit import admin as tokenkit_admin
from django_tokenkit import services, signals, tokens
from django_tokenkit.models import BlacklistedToken, IssuedToken, RevokeReason, Session
from tests.conftest import PASSWORD, assert_unauthorized, bearer, login

SESSIONS_URL = "/admin/django_tokenkit/session/"
TOKENS_URL = "/admin/django_tokenkit/issuedtoken/"
BLACKLIST_URL = "/admin/django_tokenkit/blacklistedtoken/"
USERS_URL = "/admin/auth/user/"
WHOAMI_URL = "/api/whoami/"

on_postgres = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL: the row estimate comes from pg_class",
)


# --- helpers ------------------------------------------------------------------------


def sid_of(pair: dict[str, Any]) -> str:
    return tokens.decode(pair["access"], tokens.ACCESS).sid


def whoami(pair: dict[str, Any]) -> Any:
    return APIClient().get(WHOAMI_URL, **bearer(pair["access"]))


def make_users(count: int, prefix: str = "user") -> list[Any]:
    return [
        get_user_model().objects.create_user(
            username=f"{prefix}{i}", email=f"{prefix}{i}@example.com", password=PASSWORD
        )
        for i in range(count)
    ]


def make_sessions(count: int, users: list[Any]) -> list[Session]:
    """``count`` sessions spread over ``users``, each with a refresh token on record."""
    created = []
    for i in range(count):
        services.login(users[i % len(users)])
        created.append(Session.objects.order_by("-created_at").first())
    return [s for s in created if s is not None]


def blacklist_each(sessions: list[Session]) -> None:
    """One blacklist entry per session, as if one access token of each was revoked."""
    BlacklistedToken.objects.bulk_create(
        BlacklistedToken(
            jti=uuid.uuid4().hex,
            token_type="access",
            user_id=session.user_id,
            session=session,
            expires_at=session.expires_at,
        )
        for session in sessions
    )


def action_post(client: Client, url: str, action: str, pks: list[Any], **extra: str) -> Any:
    data = {"action": action, ACTION_CHECKBOX_NAME: [str(pk) for pk in pks], **extra}
    return client.post(url, data)


def revoke_url(changelist: str, pk: Any) -> str:
    return f"{changelist}{pk}/revoke/"


@pytest.fixture
def staff_viewer(db: Any) -> Any:
    """A staff user who may view tokenkit's pages but not change (so not revoke)."""
    viewer = get_user_model().objects.create_user(
        username="viewer", email="viewer@example.com", password=PASSWORD, is_staff=True
    )
    viewer.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="django_tokenkit", codename__startswith="view_"
        ),
        Permission.objects.get(codename="view_user"),
    )
    return viewer


@pytest.fixture
def viewer_client(staff_viewer: Any) -> Client:
    client = Client()
    client.force_login(staff_viewer)
    return client


@pytest.fixture
def revoked_signals() -> Iterator[list[dict[str, Any]]]:
    received: list[dict[str, Any]] = []

    def receiver(**kwargs: Any) -> None:
        received.append(kwargs)

    signals.token_revoked.connect(receiver)
    yield received
    signals.token_revoked.disconnect(receiver)


# --- changelists --------------------------------------------------------------------


@pytest.mark.parametrize("url", [SESSIONS_URL, TOKENS_URL, BLACKLIST_URL])
def test_changelist_with_rows_renders_200(
    admin_client: Client, user: Any, url: str, django_capture_on_commit_callbacks: Any
) -> None:
    pair = login(APIClient())
    with django_capture_on_commit_callbacks(execute=True):
        services.revoke_token(tokens.decode(pair["access"], tokens.ACCESS), RevokeReason.ADMIN)
    response = admin_client.get(url)
    assert response.status_code == 200
    assert "alice" in response.content.decode()


def test_session_changelist_shows_the_spec_columns(admin_client: Client, user: Any) -> None:
    login(APIClient(REMOTE_ADDR="203.0.113.7", HTTP_USER_AGENT="Firefox/140"))
    html = admin_client.get(SESSIONS_URL).content.decode()
    for header in ("user", "status", "created", "expires", "last used", "ip address"):
        assert f">{header}<" in html.lower(), header
    assert "203.0.113.7" in html
    assert "Firefox/140" in html
    assert "tokenkit-status-active" in html


def test_session_changelist_lists_newest_first_by_an_indexed_column(
    admin_client: Client, user: Any
) -> None:
    older, newer = make_sessions(2, [user])
    Session.objects.filter(pk=older.pk).update(
        created_at=timezone.now() - timedelta(days=2),
        expires_at=timezone.now() + timedelta(days=28),
    )
    response = admin_client.get(SESSIONS_URL)
    assert [row.pk for row in response.context["cl"].result_list] == [newer.pk, older.pk]
    cl = response.context["cl"]
    column = cl.get_ordering(response.wsgi_request, Session.objects.all())[0]
    assert column == "-created_at"
    # The column header marks the sort that is really used.
    marked = [cl.list_display[i] for i in cl.get_ordering_field_columns()]
    assert marked == ["created_at"]


@pytest.mark.parametrize("model", [Session, IssuedToken, BlacklistedToken])
def test_admin_ordering_column_leads_an_index(model: Any) -> None:
    """At a million rows an unindexed ORDER BY sorts the whole table for every page."""
    model_admin = django_admin.site._registry[model]
    column = model_admin.ordering[0].lstrip("-")
    assert any(index.fields[0] == column for index in model._meta.indexes)


def test_admin_index_lists_the_three_models(admin_client: Client) -> None:
    html = admin_client.get("/admin/").content.decode()
    for url in (SESSIONS_URL, TOKENS_URL, BLACKLIST_URL):
        assert url in html


# --- filters ------------------------------------------------------------------------


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


# --- search -------------------------------------------------------------------------


@pytest.mark.parametrize("term", ["alice", "ALI", "alice@example", "example.com alice"])
def test_session_changelist_search_by_username_or_email_finds_the_user(
    admin_client: Client, user: Any, other_user: Any, term: str
) -> None:
    mine, _theirs = make_sessions(2, [user, other_user])
    response = admin_client.get(SESSIONS_URL, {"q": term})
    assert {row.pk for row in response.context["cl"].result_list} == {mine.pk}


def test_session_changelist_search_by_exact_id_finds_that_session(
    admin_client: Client, user: Any
) -> None:
    first, _second = make_sessions(2, [user])
    response = admin_client.get(SESSIONS_URL, {"q": str(first.pk)})
    assert [row.pk for row in response.context["cl"].result_list] == [first.pk]


@pytest.mark.parametrize("term", ["0000", "not-a-uuid", str(uuid.uuid4())])
def test_session_changelist_search_by_partial_or_unknown_id_finds_nothing(
    admin_client: Client, user: Any, term: str
) -> None:
    make_sessions(1, [user])
    response = admin_client.get(SESSIONS_URL, {"q": term})
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == []


def test_issued_token_changelist_search_by_jti_and_by_user(
    admin_client: Client, user: Any, other_user: Any
) -> None:
    mine, theirs = make_sessions(2, [user, other_user])
    jti = IssuedToken.objects.get(session=theirs).jti
    by_jti = admin_client.get(TOKENS_URL, {"q": jti}).context["cl"].result_list
    assert [row.pk for row in by_jti] == [jti]
    by_user = admin_client.get(TOKENS_URL, {"q": "alice"}).context["cl"].result_list
    assert {row.session_id for row in by_user} == {mine.pk}
    partial = admin_client.get(TOKENS_URL, {"q": jti[:10]}).context["cl"].result_list
    assert list(partial) == []


def test_blacklist_changelist_search_by_jti_and_by_email(
    admin_client: Client, user: Any, other_user: Any
) -> None:
    expires = timezone.now() + timedelta(minutes=5)
    BlacklistedToken.objects.create(
        jti="a" * 22, token_type="access", user=user, expires_at=expires
    )
    BlacklistedToken.objects.create(
        jti="b" * 22, token_type="access", user=other_user, expires_at=expires
    )
    by_jti = admin_client.get(BLACKLIST_URL, {"q": "a" * 22}).context["cl"].result_list
    assert [row.pk for row in by_jti] == ["a" * 22]
    by_email = admin_client.get(BLACKLIST_URL, {"q": "bob@"}).context["cl"].result_list
    assert [row.pk for row in by_email] == ["b" * 22]


# --- the changelist actions ---------------------------------------------------------


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


# --- the detail page's revoke button ------------------------------------------------


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
    assert "Revoke all sessions of this user" in html
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


# --- nothing is added, edited or deleted here ---------------------------------------


@pytest.mark.parametrize("url", [SESSIONS_URL, TOKENS_URL, BLACKLIST_URL])
def test_add_page_is_forbidden(admin_client: Client, url: str) -> None:
    assert admin_client.get(f"{url}add/").status_code == 403


def test_session_change_page_post_is_forbidden(admin_client: Client, user: Any) -> None:
    session = make_sessions(1, [user])[0]
    response = admin_client.post(
        f"{SESSIONS_URL}{session.pk}/change/", {"user_agent": "edited", "_save": "Save"}
    )
    assert response.status_code == 403
    assert Session.objects.get(pk=session.pk).user_agent == ""


def test_session_delete_page_is_forbidden_and_no_delete_action(
    admin_client: Client, user: Any
) -> None:
    session = make_sessions(1, [user])[0]
    assert admin_client.get(f"{SESSIONS_URL}{session.pk}/delete/").status_code == 403
    assert (
        admin_client.post(f"{SESSIONS_URL}{session.pk}/delete/", {"post": "yes"}).status_code == 403
    )
    html = admin_client.get(SESSIONS_URL).content.decode()
    assert "delete_selected" not in html
    action_post(admin_client, SESSIONS_URL, "delete_selected", [session.pk], post="yes")
    assert Session.objects.filter(pk=session.pk).exists()


def test_user_delete_in_the_admin_still_takes_their_sessions_along(
    admin_client: Client, user: Any
) -> None:
    make_sessions(2, [user])
    confirm = admin_client.get(f"{USERS_URL}{user.pk}/delete/")
    assert confirm.status_code == 200
    assert not confirm.context["perms_lacking"]
    admin_client.post(f"{USERS_URL}{user.pk}/delete/", {"post": "yes"})
    assert not get_user_model().objects.filter(pk=user.pk).exists()
    assert not Session.objects.exists()


# --- the User admin -----------------------------------------------------------------


def test_stock_user_admin_is_extended_by_tokenkit() -> None:
    registered = django_admin.site._registry[get_user_model()]
    assert isinstance(registered, tokenkit_admin.TokenkitUserAdmin)
    assert isinstance(registered, UserAdmin)


def test_user_changelist_links_each_user_to_their_sessions(admin_client: Client, user: Any) -> None:
    html = admin_client.get(USERS_URL).content.decode()
    assert f'href="{SESSIONS_URL}?user={user.pk}"' in html


def test_user_change_page_counts_active_sessions_and_links_them(
    admin_client: Client, user: Any
) -> None:
    make_sessions(2, [user])
    html = admin_client.get(f"{USERS_URL}{user.pk}/change/").content.decode()
    assert "2 active sessions" in html
    assert f'href="{SESSIONS_URL}?user={user.pk}"' in html
    assert f'href="{BLACKLIST_URL}?user={user.pk}"' in html


def test_user_admin_revoke_all_sessions_action_confirms_then_revokes(
    admin_client: Client,
    user: Any,
    other_user: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    pair = login(APIClient())
    bob = login(APIClient(), username="bob")
    confirm = action_post(admin_client, USERS_URL, "tokenkit_revoke_all_sessions", [user.pk])
    assert confirm.status_code == 200
    assert "Revoke all tokens of these users?" in confirm.content.decode()
    assert whoami(pair).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = action_post(
            admin_client, USERS_URL, "tokenkit_revoke_all_sessions", [user.pk], post="yes"
        )
    assert response.status_code == 302
    assert_unauthorized(whoami(pair), "token_revoked")
    assert whoami(bob).status_code == 200


def test_user_admin_revoke_action_hidden_without_session_change_permission(
    staff_viewer: Any,
) -> None:
    request = RequestFactory().get(USERS_URL)
    request.user = staff_viewer
    model_admin = django_admin.site._registry[get_user_model()]
    assert "tokenkit_revoke_all_sessions" not in model_admin.get_actions(request)
    assert "tokenkit_sessions_link" in model_admin.get_list_display(request)


def test_user_admin_mixin_works_on_a_custom_user_admin(admin_user: Any) -> None:
    class CustomUserAdmin(tokenkit_admin.TokenkitUserAdminMixin, django_admin.ModelAdmin):
        list_display = ("username", "email")

    site = django_admin.AdminSite(name="custom")
    site.register(get_user_model(), CustomUserAdmin)
    assert tokenkit_admin.extend_stock_user_admin(site) is False
    model_admin = site._registry[get_user_model()]
    request = RequestFactory().get("/")
    request.user = admin_user
    assert "tokenkit_revoke_all_sessions" in model_admin.get_actions(request)
    assert list(model_admin.get_list_display(request))[-1] == "tokenkit_sessions_link"
    fieldsets = model_admin.get_fieldsets(request, admin_user)
    assert fieldsets[-1][1]["fields"] == ["tokenkit_sessions_summary"]
    assert all(
        "tokenkit_sessions_summary" not in options["fields"] for _, options in fieldsets[:-1]
    )


def test_extend_stock_user_admin_replaces_only_the_stock_class(db: Any) -> None:
    site = django_admin.AdminSite(name="stock")
    site.register(get_user_model(), UserAdmin)
    assert tokenkit_admin.extend_stock_user_admin(site) is True
    assert type(site._registry[get_user_model()]) is tokenkit_admin.TokenkitUserAdmin
    assert tokenkit_admin.extend_stock_user_admin(site) is False


# --- scale --------------------------------------------------------------------------


def _changelist_queries(client: Client, url: str, **params: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, params)
    assert response.status_code == 200
    return len(captured)


@pytest.mark.parametrize(
    ("url", "params"),
    [
        (SESSIONS_URL, {}),
        (SESSIONS_URL, {"status": "active"}),
        (SESSIONS_URL, {"q": "user"}),
        (TOKENS_URL, {}),
        (TOKENS_URL, {"status": "active", "q": "user"}),
        (BLACKLIST_URL, {}),
    ],
)
def test_changelist_query_count_does_not_grow_with_rows(
    admin_client: Client, db: Any, url: str, params: dict[str, str]
) -> None:
    users = make_users(5)
    blacklist_each(make_sessions(5, users))
    few = _changelist_queries(admin_client, url, **params)
    users += make_users(10, prefix="more")
    blacklist_each(make_sessions(55, users))
    many = _changelist_queries(admin_client, url, **params)
    assert many == few
    assert many <= 8


def test_session_changelist_query_count_is_small(
    admin_client: Client, db: Any, django_assert_max_num_queries: Any
) -> None:
    make_sessions(60, make_users(12))
    # session + user of the admin, count, page (with users joined), and nothing per row
    with django_assert_max_num_queries(6):
        response = admin_client.get(SESSIONS_URL)
    assert len(response.context["cl"].result_list) == 50


def test_session_detail_page_lists_only_the_newest_tokens(
    admin_client: Client, user: Any, django_assert_max_num_queries: Any
) -> None:
    session = make_sessions(1, [user])[0]
    now = timezone.now()
    IssuedToken.objects.bulk_create(
        IssuedToken(
            jti=f"bulk-{i:03d}",
            session=session,
            issued_at=now - timedelta(minutes=i),
            expires_at=now + timedelta(days=1),
        )
        for i in range(1, 40)
    )
    with django_assert_max_num_queries(12):
        response = admin_client.get(f"{SESSIONS_URL}{session.pk}/change/")
    html = response.content.decode()
    shown = set(re.findall(r"bulk-\d{3}", html))
    assert len(shown) == tokenkit_admin.SESSION_INLINE_LIMIT - 1  # plus the login's own token
    assert "bulk-039" not in shown
    assert "40 issued tokens" in html


def test_paginator_counts_exactly_off_postgres_or_when_filtered(user: Any) -> None:
    make_sessions(3, [user])
    paginator = tokenkit_admin.EstimatedCountPaginator(Session.objects.order_by("pk"), 2)
    if connection.vendor != "postgresql":
        assert paginator.count == 3
        assert paginator.is_estimate is False
    filtered = tokenkit_admin.EstimatedCountPaginator(
        Session.objects.filter(user=user).order_by("pk"), 2
    )
    assert filtered.count == 3
    assert filtered.is_estimate is False


@on_postgres
def test_paginator_on_large_postgres_table_uses_the_estimate_not_count(
    admin_client: Client, db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_sessions(30, make_users(3))
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Session._meta.db_table}")
    monkeypatch.setattr(tokenkit_admin.EstimatedCountPaginator, "estimate_threshold", 10)
    with CaptureQueriesContext(connection) as captured:
        response = admin_client.get(SESSIONS_URL)
    assert response.status_code == 200
    table = Session._meta.db_table
    counts = [q["sql"] for q in captured if "COUNT(" in q["sql"].upper() and table in q["sql"]]
    assert counts == []
    assert any("pg_class" in q["sql"] for q in captured)
    assert response.context["cl"].paginator.is_estimate is True
    assert "about 30 sessions" in response.content.decode()
    # A filtered list is still counted exactly.
    filtered = admin_client.get(SESSIONS_URL, {"status": "active"})
    assert filtered.context["cl"].paginator.is_estimate is False
    assert filtered.context["cl"].result_count == 30


@on_postgres
def test_paginator_on_small_postgres_table_counts_exactly(user: Any) -> None:
    make_sessions(3, [user])
    paginator = tokenkit_admin.EstimatedCountPaginator(Session.objects.order_by("pk"), 2)
    assert paginator.count == 3
    assert paginator.is_estimate is False


def test_blacklist_lookups_are_indexed() -> None:
    opts = BlacklistedToken._meta
    assert opts.pk is not None
    assert opts.pk.name == "jti"
    assert opts.get_field("session").db_index
    assert opts.get_field("user").db_index
    assert Session._meta.get_field("user").db_index


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs PostgreSQL: reads its query plans"
)
def test_blacklist_lookups_use_an_index_on_postgres(db: Any) -> None:
    queries = [
        BlacklistedToken.objects.filter(jti="x"),
        BlacklistedToken.objects.filter(session_id=uuid.uuid4()),
        IssuedToken.objects.filter(jti="x"),
        Session.objects.filter(user_id=1, revoked_at__isnull=True),
    ]
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        for queryset in queries:
            plan = queryset.explain()
            assert "Index" in plan, plan
