"""The API-token admin page: list, filters, search, actions, the add page, at scale."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from django_tokenkit.admin.actions import CONFIRMATION_LIST_LIMIT
from django_tokenkit.admin.pagination import EstimatedCountPaginator
from django_tokenkit.models import APIToken, RevokeReason
from django_tokenkit.services import api_tokens
from tests.admin.helpers import (
    API_TOKENS_URL,
    action_post,
    make_api_tokens,
    make_users,
    on_postgres,
    revoke_url,
    with_api_token,
)
from tests.helpers import PASSWORD, assert_unauthorized

DAY = timedelta(days=1)


def _html(response: Any) -> str:
    assert response.status_code == 200, response.content[:500]
    return str(response.content.decode())


# --- the list -------------------------------------------------------------------------
def test_api_token_changelist_shows_the_columns_and_never_a_secret(
    admin_client: Client, user: Any
) -> None:
    expiring = api_tokens.create(user, name="nightly export", expires_in=DAY, scopes=["notes:read"])
    forever = api_tokens.create(user, name="forever job", expires_in=None)
    html = _html(admin_client.get(API_TOKENS_URL))
    for header in ("name", "user", "hint", "scopes", "status", "created", "expires", "last used"):
        assert f">{header}<" in html.lower(), header
    assert "nightly export" in html
    assert expiring.record.hint in html
    assert "notes:read" in html
    assert "tokenkit-status-active" in html
    assert html.count('class="tokenkit-never-expires"') == 1
    assert "never expires" in html
    for issued in (expiring, forever):
        assert issued.token not in html
        assert issued.record.digest not in html


def test_api_token_detail_page_is_read_only_with_revoke_buttons(
    admin_client: Client, user: Any
) -> None:
    issued = api_tokens.create(user, name="ci", expires_in=None)
    html = _html(admin_client.get(f"{API_TOKENS_URL}{issued.record.pk}/change/"))
    assert "Revoke this API token" in html
    assert "Revoke all API tokens of this user" in html
    assert "tokenkit-never-expires" in html
    assert 'name="_save"' not in html
    assert issued.token not in html
    assert issued.record.digest not in html


@pytest.mark.parametrize(
    "params",
    [{}, {"status": "active"}, {"expires": "7d"}, {"expires": "never"}, {"q": "user"}],
)
def test_api_token_changelist_query_count_does_not_grow_with_rows(
    admin_client: Client, db: Any, params: dict[str, str]
) -> None:
    users = make_users(5)
    make_api_tokens(5, users, expires_in=DAY)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            response = admin_client.get(API_TOKENS_URL, params)
        assert response.status_code == 200
        return len(captured)

    few = queries()
    make_api_tokens(55, users + make_users(10, prefix="more"), expires_in=None)
    make_api_tokens(10, users, expires_in=DAY)
    many = queries()
    assert many == few
    assert many <= 8


@on_postgres
def test_api_token_changelist_on_a_large_table_uses_the_estimate(
    admin_client: Client, user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_api_tokens(30, [user])
    table = APIToken._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {table}")
    monkeypatch.setattr(EstimatedCountPaginator, "estimate_threshold", 10)
    with CaptureQueriesContext(connection) as captured:
        response = admin_client.get(API_TOKENS_URL)
    counts = [q["sql"] for q in captured if "COUNT(" in q["sql"].upper() and table in q["sql"]]
    assert counts == []
    assert response.context["cl"].paginator.is_estimate is True
    html = response.content.decode()
    assert "about 30 API tokens" in html, html[html.find("paginator") :][:300]


def test_api_token_admin_ordering_column_leads_an_index() -> None:
    from django.contrib import admin as django_admin

    ordering = django_admin.site._registry[APIToken].ordering
    assert ordering
    first = ordering[0]
    assert isinstance(first, str)
    column = first.lstrip("-")
    assert any(index.fields[0] == column for index in APIToken._meta.indexes)


# --- filters --------------------------------------------------------------------------
def test_api_token_expiry_filter_within_7_days_and_never(admin_client: Client, user: Any) -> None:
    soon = api_tokens.create(user, name="soon", expires_in=3 * DAY).record
    later = api_tokens.create(user, name="later", expires_in=30 * DAY).record
    never = api_tokens.create(user, name="never", expires_in=None).record
    revoked_soon = api_tokens.create(user, name="revoked soon", expires_in=DAY).record
    api_tokens.revoke([revoked_soon], RevokeReason.ADMIN)

    def listed(**params: str) -> set[Any]:
        response = admin_client.get(API_TOKENS_URL, params)
        return {row.pk for row in response.context["cl"].result_list}

    assert listed(expires="7d") == {soon.pk}
    assert listed(expires="never") == {never.pk}
    assert listed(status="revoked") == {revoked_soon.pk}
    assert listed() == {soon.pk, later.pk, never.pk, revoked_soon.pk}
    html = _html(admin_client.get(API_TOKENS_URL))
    assert "within 7 days" in html
    assert "?expires=never" in html


# --- search ---------------------------------------------------------------------------
def test_api_token_search_by_username_email_name_hint_token_and_id(
    admin_client: Client, user: Any, other_user: Any
) -> None:
    mine = api_tokens.create(user, name="Nightly Export", expires_in=DAY)
    theirs = api_tokens.create(other_user, name="deploy", expires_in=DAY)

    def found(q: str) -> set[Any]:
        response = admin_client.get(API_TOKENS_URL, {"q": q})
        assert response.status_code == 200
        return {row.pk for row in response.context["cl"].result_list}

    assert found("alice") == {mine.record.pk}
    assert found("bob@example") == {theirs.record.pk}
    assert found("export") == {mine.record.pk}
    assert found("bob deploy") == {theirs.record.pk}
    assert found("alice deploy") == set()
    assert found(theirs.record.hint) == {theirs.record.pk}
    assert found(mine.token) == {mine.record.pk}
    assert found(str(theirs.record.pk)) == {theirs.record.pk}
    assert found(str(uuid.uuid4())) == set()


@pytest.mark.parametrize("q", ["a b c d e f g", "x" * 5000, "\x00alice", "tkp_\x00"])
def test_api_token_search_hostile_input_is_bounded_never_500(
    admin_client: Client, user: Any, q: str
) -> None:
    api_tokens.create(user, name="job", expires_in=DAY)
    with CaptureQueriesContext(connection) as captured:
        response = admin_client.get(API_TOKENS_URL, {"q": q})
    # A NUL is an invalid lookup: Django's changelist redirects to "?e=1".
    assert response.status_code == (302 if "\x00" in q else 200)
    assert len(captured) <= 8


# --- revoke actions -------------------------------------------------------------------
def test_api_token_revoke_selected_confirms_then_revokes_on_the_next_request(
    admin_client: Client,
    user: Any,
    django_capture_on_commit_callbacks: Any,
    revoked_signals: list[dict[str, Any]],
) -> None:
    target, kept = make_api_tokens(2, [user])
    assert with_api_token(target.token).status_code == 200  # its state is now cached
    confirm = action_post(admin_client, API_TOKENS_URL, "revoke_selected", [target.record.pk])
    assert "Revoke the selected API tokens?" in _html(confirm)
    assert APIToken.objects.get(pk=target.record.pk).revoked_at is None
    with django_capture_on_commit_callbacks(execute=True):
        response = action_post(
            admin_client, API_TOKENS_URL, "revoke_selected", [target.record.pk], post="yes"
        )
    assert response.status_code == 302
    assert_unauthorized(with_api_token(target.token), "token_revoked")
    assert with_api_token(kept.token).status_code == 200
    assert APIToken.objects.get(pk=target.record.pk).revoke_reason == RevokeReason.ADMIN
    assert [(s["unit"], s["identifier"]) for s in revoked_signals] == [
        ("api_token", str(target.record.pk))
    ]
    assert "Revoked 1 API token." in _html(admin_client.get(response["Location"]))


def test_api_token_revoke_users_action_ends_their_api_tokens_not_their_sessions(
    admin_client: Client, user: Any, other_user: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from tests.admin.helpers import make_sessions

    first, second = make_api_tokens(2, [user])
    bob = api_tokens.create(other_user, name="bob's", expires_in=DAY)
    session = make_sessions(1, [user])[0]
    confirm = action_post(admin_client, API_TOKENS_URL, "revoke_users", [first.record.pk])
    assert "Revoke all API tokens of these users?" in _html(confirm)
    with django_capture_on_commit_callbacks(execute=True):
        action_post(admin_client, API_TOKENS_URL, "revoke_users", [first.record.pk], post="yes")
    assert_unauthorized(with_api_token(second.token), "token_revoked")
    assert with_api_token(bob.token).status_code == 200
    session.refresh_from_db()
    assert session.revoked_at is None


def test_api_token_detail_revoke_button_revokes_that_token(
    admin_client: Client, user: Any, django_capture_on_commit_callbacks: Any
) -> None:
    target, kept = make_api_tokens(2, [user])
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            revoke_url(API_TOKENS_URL, target.record.pk), {"scope": "api_token"}
        )
    assert response.status_code == 302
    assert_unauthorized(with_api_token(target.token), "token_revoked")
    assert with_api_token(kept.token).status_code == 200
    page = _html(admin_client.get(response["Location"]))
    assert "The API token is revoked." in page
    assert "Revoke this API token" not in page
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(revoke_url(API_TOKENS_URL, kept.record.pk), {"scope": "user_api_tokens"})
    assert_unauthorized(with_api_token(kept.token), "token_revoked")


@pytest.mark.parametrize("object_id", ["not-a-uuid", "\x00", str(uuid.uuid4())])
def test_api_token_revoke_url_with_bad_or_unknown_id_redirects(
    admin_client: Client, db: Any, object_id: str
) -> None:
    response = admin_client.post(revoke_url(API_TOKENS_URL, object_id), {"scope": "api_token"})
    assert response.status_code == 302
    assert response["Location"] == API_TOKENS_URL


def test_api_token_actions_need_the_change_permission(viewer_client: Client, user: Any) -> None:
    issued = make_api_tokens(1, [user])[0]
    html = _html(viewer_client.get(API_TOKENS_URL))
    assert "revoke_selected" not in html
    assert "rotate_selected" not in html
    action_post(viewer_client, API_TOKENS_URL, "revoke_selected", [issued.record.pk], post="yes")
    assert APIToken.objects.get(pk=issued.record.pk).revoked_at is None
    assert viewer_client.get(f"{API_TOKENS_URL}add/").status_code == 403


# --- rotation -------------------------------------------------------------------------
def test_api_token_rotate_action_shows_each_new_secret_once(
    admin_client: Client, user: Any, django_capture_on_commit_callbacks: Any
) -> None:
    old = api_tokens.create(user, name="nightly", expires_in=30 * DAY, scopes=["notes:read"])
    confirm = _html(action_post(admin_client, API_TOKENS_URL, "rotate_selected", [old.record.pk]))
    assert "Rotate the selected API tokens?" in confirm
    assert 'name="grace"' in confirm
    with django_capture_on_commit_callbacks(execute=True):
        response = action_post(
            admin_client,
            API_TOKENS_URL,
            "rotate_selected",
            [old.record.pk],
            post="yes",
            grace="0",
        )
    html = _html(response)
    assert "no-store" in response["Cache-Control"]
    new = APIToken.objects.get(rotated_from=old.record)
    assert new.scopes == ["notes:read"]
    assert new.name == "nightly"
    secret = html.split('class="vTextField tokenkit-secret" readonly value="')[1].split('"')[0]
    assert new.hint == "tkp_" + secret[-4:]
    assert with_api_token(secret).status_code == 200
    assert_unauthorized(with_api_token(old.token), "token_expired")
    # Never shown again: not on the list, not on its page.
    assert secret not in _html(admin_client.get(API_TOKENS_URL))
    assert secret not in _html(admin_client.get(f"{API_TOKENS_URL}{new.pk}/change/"))


def test_api_token_rotate_action_with_grace_keeps_the_old_token_working(
    admin_client: Client, user: Any, django_capture_on_commit_callbacks: Any
) -> None:
    old = api_tokens.create(user, name="nightly", expires_in=30 * DAY)
    with django_capture_on_commit_callbacks(execute=True):
        action_post(
            admin_client,
            API_TOKENS_URL,
            "rotate_selected",
            [old.record.pk],
            post="yes",
            grace="3600",
        )
    assert with_api_token(old.token).status_code == 200
    old.record.refresh_from_db()
    assert old.record.rotated_at is not None
    assert old.record.expires_at is not None
    assert old.record.expires_at <= timezone.now() + timedelta(hours=1)


def test_api_token_rotate_action_skips_revoked_and_refuses_too_many(
    admin_client: Client, user: Any
) -> None:
    revoked = make_api_tokens(1, [user])[0]
    api_tokens.revoke([revoked.record], RevokeReason.ADMIN)
    response = action_post(
        admin_client, API_TOKENS_URL, "rotate_selected", [revoked.record.pk], post="yes", grace="0"
    )
    assert "No token was rotated" in _html(response)
    assert not APIToken.objects.filter(rotated_from=revoked.record).exists()
    many = make_api_tokens(CONFIRMATION_LIST_LIMIT + 1, [user])
    response = action_post(
        admin_client, API_TOKENS_URL, "rotate_selected", [t.record.pk for t in many], post="yes"
    )
    assert response.status_code == 302
    assert not APIToken.objects.filter(rotated_from__isnull=False).exists()


def test_api_token_rotate_action_bad_grace_rotates_nothing(admin_client: Client, user: Any) -> None:
    old = make_api_tokens(1, [user])[0]
    response = action_post(
        admin_client, API_TOKENS_URL, "rotate_selected", [old.record.pk], post="yes", grace="99999"
    )
    assert response.status_code == 200
    assert not APIToken.objects.filter(rotated_from=old.record).exists()


def test_api_token_rotate_needs_the_add_permission(user: Any) -> None:
    staff = get_user_model().objects.create_user(
        username="changer", password=PASSWORD, is_staff=True
    )
    staff.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="tokenkit", codename__in=["view_apitoken", "change_apitoken"]
        )
    )
    client = Client()
    client.force_login(staff)
    old = make_api_tokens(1, [user])[0]
    html = _html(client.get(API_TOKENS_URL))
    assert "revoke_selected" in html
    assert "rotate_selected" not in html
    action_post(client, API_TOKENS_URL, "rotate_selected", [old.record.pk], post="yes", grace="0")
    assert not APIToken.objects.filter(rotated_from=old.record).exists()


# --- creating a token for a user ------------------------------------------------------
def test_api_token_add_page_offers_user_name_lifetime_and_scopes(
    admin_client: Client, user: Any
) -> None:
    html = _html(admin_client.get(f"{API_TOKENS_URL}add/", {"user": str(user.pk)}))
    assert 'name="user"' in html
    assert f'value="{user.pk}"' in html
    assert 'name="name"' in html
    assert 'value="never"' in html
    assert 'value="90" selected' in html
    assert "notes:read" in html
    assert "notes:write" in html


def test_api_token_add_page_creates_and_shows_the_secret_once(
    admin_client: Client, user: Any
) -> None:
    response = admin_client.post(
        f"{API_TOKENS_URL}add/",
        {"user": str(user.pk), "name": "nightly", "expires_in": "30", "scopes": ["notes:read"]},
    )
    html = _html(response)
    assert "no-store" in response["Cache-Control"]
    record = APIToken.objects.get()
    assert record.user == user
    assert record.scopes == ["notes:read"]
    assert record.expires_at is not None
    assert abs(record.expires_at - (timezone.now() + 30 * DAY)) < timedelta(minutes=1)
    secret = html.split('class="vTextField tokenkit-secret" readonly value="')[1].split('"')[0]
    assert with_api_token(secret).status_code == 200
    assert "shown only on this page" in html
    assert secret not in _html(admin_client.get(API_TOKENS_URL))
    assert secret not in _html(admin_client.get(f"{API_TOKENS_URL}{record.pk}/change/"))
    assert secret not in _html(admin_client.get(f"{API_TOKENS_URL}{record.pk}/history/"))


def test_api_token_add_page_never_expires(admin_client: Client, user: Any) -> None:
    admin_client.post(
        f"{API_TOKENS_URL}add/", {"user": str(user.pk), "name": "forever", "expires_in": "never"}
    )
    assert APIToken.objects.get().expires_at is None


def test_api_token_add_page_with_a_maximum_lifetime_offers_no_never(
    admin_client: Client, user: Any, settings: Any
) -> None:
    settings.TOKENKIT = {**settings.TOKENKIT, "API_TOKEN_MAX_LIFETIME": 30 * 86400}
    html = _html(admin_client.get(f"{API_TOKENS_URL}add/"))
    assert 'value="never"' not in html
    assert 'value="90"' not in html
    response = admin_client.post(
        f"{API_TOKENS_URL}add/", {"user": str(user.pk), "name": "x", "expires_in": "never"}
    )
    assert response.status_code == 200
    assert not APIToken.objects.exists()


@pytest.mark.parametrize(
    "data",
    [
        {"user": "999999", "name": "x", "expires_in": "30"},
        {"user": "\x00", "name": "x", "expires_in": "30"},
        {"user": "9" * 40, "name": "x", "expires_in": "30"},
        {"user": "USER", "name": "", "expires_in": "30"},
        {"user": "USER", "name": "x" * 10_000, "expires_in": "30"},
        {"user": "USER", "name": "x", "expires_in": "-5"},
        {"user": "USER", "name": "x", "expires_in": "30", "scopes": ["admin:all"]},
    ],
)
def test_api_token_add_page_bad_input_is_a_form_error(
    admin_client: Client, user: Any, data: dict[str, Any]
) -> None:
    posted = {key: (str(user.pk) if value == "USER" else value) for key, value in data.items()}
    response = admin_client.post(f"{API_TOKENS_URL}add/", posted)
    assert response.status_code == 200
    assert "errorlist" in response.content.decode() or "errornote" in response.content.decode()
    assert not APIToken.objects.exists()


def test_api_token_add_page_over_the_limit_says_so(
    admin_client: Client, user: Any, settings: Any
) -> None:
    settings.TOKENKIT = {**settings.TOKENKIT, "API_TOKEN_LIMIT_PER_USER": 1}
    make_api_tokens(1, [user])
    response = admin_client.post(
        f"{API_TOKENS_URL}add/", {"user": str(user.pk), "name": "x", "expires_in": "30"}
    )
    assert "revoke one before creating another" in _html(response)
    assert APIToken.objects.count() == 1


# --- revoking users from the other pages ends their API tokens too, and says so --------
def test_session_revoke_users_action_also_revokes_api_tokens_and_says_so(
    admin_client: Client, user: Any, other_user: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from tests.admin.helpers import SESSIONS_URL, make_sessions

    session = make_sessions(1, [user])[0]
    mine = make_api_tokens(2, [user])
    bob = api_tokens.create(other_user, name="bob's", expires_in=DAY)
    confirm = _html(action_post(admin_client, SESSIONS_URL, "revoke_users", [session.pk]))
    assert "Active API tokens" in confirm
    assert "every API token of these users" in confirm
    with django_capture_on_commit_callbacks(execute=True):
        response = action_post(admin_client, SESSIONS_URL, "revoke_users", [session.pk], post="yes")
    for issued in mine:
        assert_unauthorized(with_api_token(issued.token), "token_revoked")
    assert with_api_token(bob.token).status_code == 200
    message = _html(admin_client.get(response["Location"]))
    assert "Revoked 1 session and 2 API tokens of 1 user(s)." in message


def test_user_admin_revoke_action_also_revokes_api_tokens_and_says_so(
    admin_client: Client, user: Any, django_capture_on_commit_callbacks: Any
) -> None:
    issued = make_api_tokens(1, [user])[0]
    url = "/opted-in-admin/auth/user/"
    assert "Revoke all sessions and API tokens of selected users" in _html(admin_client.get(url))
    with django_capture_on_commit_callbacks(execute=True):
        response = action_post(
            admin_client, url, "tokenkit_revoke_all_sessions", [user.pk], post="yes"
        )
    assert_unauthorized(with_api_token(issued.token), "token_revoked")
    assert APIToken.objects.get().revoke_reason == RevokeReason.ADMIN
    assert "Revoked 0 sessions and 1 API token of 1 user(s)." in _html(
        admin_client.get(response["Location"])
    )


def test_session_detail_user_button_also_revokes_api_tokens_and_says_so(
    admin_client: Client, user: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from tests.admin.helpers import SESSIONS_URL, make_sessions

    session = make_sessions(1, [user])[0]
    issued = make_api_tokens(1, [user])[0]
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(revoke_url(SESSIONS_URL, session.pk), {"scope": "user"})
    assert_unauthorized(with_api_token(issued.token), "token_revoked")
    assert "Revoked 1 session and 1 API token of the user." in _html(
        admin_client.get(response["Location"])
    )


def test_user_admin_links_include_the_users_api_tokens(admin_client: Client, user: Any) -> None:
    make_api_tokens(2, [user])
    changelist = _html(admin_client.get("/opted-in-admin/auth/user/"))
    assert f'href="/opted-in-admin/tokenkit/apitoken/?user={user.pk}"' in changelist
    page = _html(admin_client.get(f"/opted-in-admin/auth/user/{user.pk}/change/"))
    assert "2 active API tokens" in page
    assert f'href="/opted-in-admin/tokenkit/apitoken/?user={user.pk}"' in page
    listed = admin_client.get("/opted-in-admin/tokenkit/apitoken/", {"user": str(user.pk)})
    assert len(listed.context["cl"].result_list) == 2
