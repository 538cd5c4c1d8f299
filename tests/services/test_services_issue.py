"""Issuing (:mod:`django_tokenkit.services.issue`): login, the pair, the client's details."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import RequestFactory
from rest_framework.exceptions import APIException

from django_tokenkit import tokens
from django_tokenkit.exceptions import StoreUnavailable
from django_tokenkit.models import IssuedToken, Session
from django_tokenkit.services import issue
from tests.faults import failing_writes


@pytest.mark.parametrize(
    ("remote_addr", "expected"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:DB8:0:0:0:0:0:1", "2001:db8::1"),
        ("not an address", None),
        ("", None),
    ],
)
def test_client_details_remote_addr_normalised_or_dropped(
    remote_addr: str, expected: str | None
) -> None:
    request = RequestFactory().get("/", REMOTE_ADDR=remote_addr)

    assert issue.client_details(request)[0] == expected


def test_client_details_user_agent_cut_to_its_column() -> None:
    request = RequestFactory().get("/", HTTP_USER_AGENT="x" * 2000)

    assert issue.client_details(request)[1] == "x" * issue.USER_AGENT_MAX_LENGTH


def test_client_details_without_request_is_empty() -> None:
    assert issue.client_details(None) == (None, "")


def test_login_records_session_and_pair_as_issued(user: Any, settings: Any) -> None:
    settings.TOKENKIT = {"ACCESS_TOKEN_LIFETIME": timedelta(minutes=5)}

    pair = issue.login(user, RequestFactory().get("/", REMOTE_ADDR="203.0.113.7"))

    session = Session.objects.get()
    record = IssuedToken.objects.get()
    assert (session.ip_address, pair.access_token.sid) == ("203.0.113.7", session.sid)
    assert (record.jti, record.access_jti) == (pair.refresh_token.jti, pair.access_token.jti)
    assert pair.as_response_data()["expires_in"] == 300
    assert tokens.decode(pair.access, tokens.ACCESS).jti == pair.access_token.jti


def test_replay_pair_signs_the_recorded_pair_byte_for_byte(user: Any) -> None:
    pair = issue.login(user)

    replayed = issue.replay_pair(IssuedToken.objects.select_related("session").get(), {})

    assert (replayed.access, replayed.refresh) == (pair.access, pair.refresh)


def test_login_database_failure_raises_store_unavailable_and_records_nothing(
    user: Any,
) -> None:
    with (
        failing_writes("tokenkit_issuedtoken", "INSERT"),
        pytest.raises(StoreUnavailable) as raised,
    ):
        issue.login(user)

    assert not isinstance(raised.value, APIException)  # a domain error: no HTTP in it
    assert not Session.objects.exists()
