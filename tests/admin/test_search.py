"""The admin search: usernames, emails and exact ids."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from django_tokenkit.models import BlacklistedToken, IssuedToken
from tests.admin.helpers import (
    BLACKLIST_URL,
    SESSIONS_URL,
    TOKENS_URL,
    make_sessions,
)


# --- search -----------------------------------------------------------------------
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
