"""The admin changelists (SPEC section 6, "Admin"): columns, order, read-only pages; at scale."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.contrib import admin as django_admin
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from django_tokenkit import services, tokens
from django_tokenkit.admin.sessions import SESSION_INLINE_LIMIT
from django_tokenkit.models import BlacklistedToken, IssuedToken, RevokeReason, Session
from tests.admin.helpers import (
    BLACKLIST_URL,
    SESSIONS_URL,
    TOKENS_URL,
    USERS_URL,
    action_post,
    blacklist_each,
    make_sessions,
    make_users,
)
from tests.helpers import concrete_field, has_db_index, login


# --- changelists ------------------------------------------------------------------
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
    ordering = django_admin.site._registry[model].ordering
    assert ordering
    first = ordering[0]
    assert isinstance(first, str)
    column = first.lstrip("-")
    assert any(index.fields[0] == column for index in model._meta.indexes)


def test_admin_index_lists_the_three_models(admin_client: Client) -> None:
    html = admin_client.get("/admin/").content.decode()
    for url in (SESSIONS_URL, TOKENS_URL, BLACKLIST_URL):
        assert url in html


# --- nothing is added, edited or deleted here -------------------------------------
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


# --- scale ------------------------------------------------------------------------
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
    assert len(shown) == SESSION_INLINE_LIMIT - 1  # plus the login's own token
    assert "bulk-039" not in shown
    assert "40 issued tokens" in html


def test_blacklist_lookups_are_indexed() -> None:
    opts = BlacklistedToken._meta
    assert opts.pk is not None
    assert opts.pk.name == "jti"
    assert has_db_index(concrete_field(BlacklistedToken, "session"))
    assert has_db_index(concrete_field(BlacklistedToken, "user"))
    assert has_db_index(concrete_field(Session, "user"))


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
