"""What the admin accepts from outside: bounded searches, and ids checked before any query.

An outside probe found a search whose every word added a subquery (200 words
kept PostgreSQL planning past the worker's timeout) and object ids with a NUL
byte that PostgreSQL refused with a ``DataError`` (a 500). Both halves of the
suite run these; the 500s only ever showed on PostgreSQL.
"""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth import get_user_model
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from django_tokenkit import services
from django_tokenkit.admin import search
from django_tokenkit.models import BlacklistedToken, IssuedToken, Session

SESSIONS_URL = "/admin/tokenkit/session/"
TOKENS_URL = "/admin/tokenkit/issuedtoken/"
BLACKLIST_URL = "/admin/tokenkit/blacklistedtoken/"
LISTS = [SESSIONS_URL, TOKENS_URL, BLACKLIST_URL]

#: 200 different words, none in any username or email.
TWO_HUNDRED_WORDS = " ".join(f"nomatch{i}" for i in range(200))


# --- helpers ------------------------------------------------------------------------


@pytest.fixture
def rows(user: Any, other_user: Any) -> dict[str, dict[str, Any]]:
    """For alice and bob: one session each, its refresh token, and a blacklist entry."""
    made: dict[str, dict[str, Any]] = {}
    for person in (user, other_user):
        services.login(person)
        session = Session.objects.filter(user=person).get()
        entry = BlacklistedToken.objects.create(
            jti=uuid.uuid4().hex,
            token_type="access",
            user=person,
            session=session,
            expires_at=timezone.now() + timedelta(minutes=5),
        )
        made[person.username] = {
            SESSIONS_URL: session.pk,
            TOKENS_URL: IssuedToken.objects.get(session=session).pk,
            BLACKLIST_URL: entry.pk,
        }
    return made


def listed(client: Client, url: str, q: str) -> set[Any]:
    response = client.get(url, {"q": q})
    assert response.status_code == 200
    return {row.pk for row in response.context["cl"].result_list}


def messages_of(response: Any) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def user_table_scans(sql: str) -> int:
    """How many times ``sql`` reads the user table in a FROM (a JOIN is not counted)."""
    table = connection.ops.quote_name(get_user_model()._meta.db_table)
    return len(re.findall(rf"FROM {re.escape(table)}", sql))


# --- search: results ----------------------------------------------------------------


@pytest.mark.parametrize("url", LISTS)
@pytest.mark.parametrize("q", ["alice", "ALI", "alice@example"])
def test_admin_search_one_word_finds_that_users_rows(
    admin_client: Client, rows: dict[str, dict[str, Any]], url: str, q: str
) -> None:
    assert listed(admin_client, url, q) == {rows["alice"][url]}


@pytest.mark.parametrize("url", LISTS)
def test_admin_search_two_words_must_both_match(
    admin_client: Client, rows: dict[str, dict[str, Any]], url: str
) -> None:
    assert listed(admin_client, url, "example.com bob") == {rows["bob"][url]}
    assert listed(admin_client, url, "alice bob") == set()


@pytest.mark.parametrize("url", LISTS)
def test_admin_search_five_words_all_used(
    admin_client: Client, rows: dict[str, dict[str, Any]], url: str
) -> None:
    # bob@example.com has "a", "l", "c" and "e", but no "i".
    assert listed(admin_client, url, "a l c e i") == {rows["alice"][url]}
    assert listed(admin_client, url, "a l c e nomatch") == set()


@pytest.mark.parametrize("url", LISTS)
def test_admin_search_past_the_word_bound_uses_the_first_words_and_says_so(
    admin_client: Client, rows: dict[str, dict[str, Any]], url: str
) -> None:
    assert search.MAX_SEARCH_TERMS == 5
    response = admin_client.get(url, {"q": f"a l i c e {TWO_HUNDRED_WORDS}"})

    assert response.status_code == 200
    assert {row.pk for row in response.context["cl"].result_list} == {rows["alice"][url]}
    assert any("Only the first 5 words" in text for text in messages_of(response))
    assert "Only the first 5 words" in response.content.decode()


@pytest.mark.parametrize("url", LISTS)
def test_admin_search_repeated_words_count_once_and_need_no_warning(
    admin_client: Client, rows: dict[str, dict[str, Any]], url: str
) -> None:
    response = admin_client.get(url, {"q": " ".join(["alice"] * 50)})

    assert {row.pk for row in response.context["cl"].result_list} == {rows["alice"][url]}
    assert messages_of(response) == []


@pytest.mark.parametrize("url", LISTS)
def test_admin_search_by_ids_finds_each_and_a_word_narrows_them(
    admin_client: Client, rows: dict[str, dict[str, Any]], url: str
) -> None:
    alice, bob = rows["alice"][url], rows["bob"][url]

    assert listed(admin_client, url, f"{alice} {bob}") == {alice, bob}
    assert listed(admin_client, url, f"{alice} {bob} bob@") == {bob}


def test_admin_search_words_past_the_length_bound_are_cut(admin_client: Client, rows: Any) -> None:
    bound = search.MAX_SEARCH_TERM_LENGTH
    with CaptureQueriesContext(connection) as captured:
        response = admin_client.get(SESSIONS_URL, {"q": "x" * 10_000})

    assert response.status_code == 200
    assert any("Only the first 5 words" in text for text in messages_of(response))
    sql = " ".join(query["sql"] for query in captured)
    assert "x" * bound in sql
    assert "x" * (bound + 1) not in sql


def test_search_terms_drops_nul_characters() -> None:
    assert search.search_terms("ali\x00ce \x00").words == ("alice",)


# --- search: the work it asks for ---------------------------------------------------


def _search_queries(client: Client, url: str, q: str) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, {"q": q})
    assert response.status_code == 200
    return [query["sql"] for query in captured]


@pytest.mark.parametrize("url", LISTS)
def test_admin_search_of_200_words_runs_the_queries_of_one_word(
    admin_client: Client, rows: Any, url: str
) -> None:
    one_word = _search_queries(admin_client, url, "nomatch")
    many_words = _search_queries(admin_client, url, TWO_HUNDRED_WORDS)

    assert len(many_words) == len(one_word)
    assert max(user_table_scans(sql) for sql in many_words) == 1
    likes = max(sql.upper().count(" LIKE ") for sql in many_words)
    # username and email, for each word used
    assert likes == 2 * search.MAX_SEARCH_TERMS


@pytest.mark.skipif(connection.vendor != "postgresql", reason="reads PostgreSQL's plans")
@pytest.mark.parametrize("url", LISTS)
def test_admin_search_of_200_words_plans_one_user_scan_on_postgres(
    admin_client: Client, rows: Any, url: str
) -> None:
    """EXPLAIN ANALYZE each query of a 200-word search: the user table is read once."""
    many_words = _search_queries(admin_client, url, TWO_HUNDRED_WORDS)
    searched = [sql for sql in many_words if " LIKE " in sql.upper()]
    assert searched
    table = get_user_model()._meta.db_table
    with connection.cursor() as cursor:
        for sql in searched:
            cursor.execute(f"EXPLAIN ANALYZE {sql}")
            plan = "\n".join(line for (line,) in cursor.fetchall())
            assert len(re.findall(rf"Scan on {table} u0\b", plan)) == 1, plan


# --- object ids ---------------------------------------------------------------------

#: Ids no row can have, as they appear in a URL path: NUL (raw, and in the
#: admin's own quoting, where "_00" stands for it), too long, a space.
MALFORMED_IDS = ["%00", "_00", "abc%00def", "a" * 65, "two%20words"]


def _change_redirect_says_missing(response: Any) -> None:
    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    assert any("doesn’t exist" in text for text in messages_of(response))


@pytest.mark.parametrize("url", LISTS)
@pytest.mark.parametrize("object_id", [*MALFORMED_IDS, "not-a-uuid"])
@pytest.mark.parametrize("page", ["change", "history"])
def test_admin_page_with_malformed_id_answers_as_for_a_missing_row(
    admin_client: Client, rows: Any, url: str, object_id: str, page: str
) -> None:
    _change_redirect_says_missing(admin_client.get(f"{url}{object_id}/{page}/"))


@pytest.mark.parametrize("url", LISTS)
def test_admin_change_page_with_nul_id_as_to_field_answers_as_for_a_missing_row(
    admin_client: Client, rows: Any, url: str
) -> None:
    pk_name = "id" if url == SESSIONS_URL else "jti"
    _change_redirect_says_missing(admin_client.get(f"{url}%00/change/", {"_to_field": pk_name}))


@pytest.mark.parametrize("url", LISTS)
@pytest.mark.parametrize("object_id", MALFORMED_IDS)
def test_admin_delete_page_with_malformed_id_is_403(
    admin_client: Client, rows: Any, url: str, object_id: str
) -> None:
    assert admin_client.get(f"{url}{object_id}/delete/").status_code == 403


@pytest.mark.parametrize("url", LISTS)
@pytest.mark.parametrize("object_id", MALFORMED_IDS)
@pytest.mark.parametrize("scope", ["token", "session", "user"])
def test_admin_revoke_with_malformed_id_redirects_with_warning_and_revokes_nothing(
    admin_client: Client, rows: Any, url: str, object_id: str, scope: str
) -> None:
    response = admin_client.post(f"{url}{object_id}/revoke/", {"scope": scope})

    assert response.status_code == 302
    assert response["Location"] == url
    assert any("doesn’t exist" in text for text in messages_of(response))
    assert not Session.objects.filter(revoked_at__isnull=False).exists()


@pytest.mark.parametrize(
    ("url", "action"),
    [
        (SESSIONS_URL, "revoke_selected"),
        (TOKENS_URL, "revoke_selected"),
        (TOKENS_URL, "revoke_sessions"),
        (BLACKLIST_URL, "revoke_users"),
    ],
)
def test_admin_action_drops_malformed_ticked_ids_and_keeps_the_rest(
    admin_client: Client, rows: dict[str, dict[str, Any]], url: str, action: str
) -> None:
    junk = ["\x00", "a\x00b", "a" * 65, "not a key"]
    only_junk = {"action": action, ACTION_CHECKBOX_NAME: junk, "post": "yes"}
    response = admin_client.post(url, only_junk)

    assert response.status_code == 302
    assert not Session.objects.filter(revoked_at__isnull=False).exists()

    mixed = {**only_junk, ACTION_CHECKBOX_NAME: [*junk, str(rows["bob"][url])]}
    response = admin_client.post(url, mixed)

    assert response.status_code == 302
    revoked = set(Session.objects.filter(revoked_at__isnull=False).values_list("user__username"))
    if action == "revoke_selected" and url == TOKENS_URL:
        # Revoking a token keeps its session.
        assert IssuedToken.objects.get(pk=rows["bob"][url]).revoked_at is not None
    else:
        assert revoked == {("bob",)}


@pytest.mark.parametrize(
    ("url", "params"),
    [
        (SESSIONS_URL, {"revoke_reason__exact": "\x00"}),
        (TOKENS_URL, {"token_type__exact": "\x00"}),
        (BLACKLIST_URL, {"reason__exact": "a\x00"}),
        (SESSIONS_URL, {"q": "\x00"}),
    ],
)
def test_admin_changelist_with_nul_in_the_query_string_redirects_with_error_flag(
    admin_client: Client, rows: Any, url: str, params: dict[str, str]
) -> None:
    response = admin_client.get(url, params)

    assert response.status_code == 302
    assert response["Location"] == f"{url}?e=1"


@pytest.mark.parametrize("url", LISTS)
def test_admin_change_page_of_a_real_row_still_opens(
    admin_client: Client, rows: dict[str, dict[str, Any]], url: str
) -> None:
    response = admin_client.get(f"{url}{rows['alice'][url]}/change/")

    assert response.status_code == 200
    assert response.context["original"].pk == rows["alice"][url]
