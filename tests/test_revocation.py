"""The revocation store: the database decides, the shared cache answers fast."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from django.core.cache import caches
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from django_tokenkit import cache as tokenkit_cache
from django_tokenkit import revocation, services, tokens
from django_tokenkit.models import IssuedToken, RevokeReason, Session
from tests.helpers import PASSWORD, assert_unauthorized, bearer, login, whoami

LOGIN_URL = "/api/auth/token/"
REFRESH_URL = "/api/auth/token/refresh/"
LOGOUT_URL = "/api/auth/logout/"

#: Every cache method tokenkit could use for a round trip.
CACHE_METHODS = (
    "get",
    "get_many",
    "add",
    "set",
    "set_many",
    "delete",
    "delete_many",
    "has_key",
    "incr",
    "touch",
)


@pytest.fixture
def cache_calls() -> Iterator[list[str]]:
    """Names of the top-level calls made on tokenkit's cache object.

    Each wrapper delegates to the real method. Calls a method makes on the
    same object (``LocMemCache.get_many`` calls ``get`` per key) are not
    counted again: one entry is one round trip to a networked cache.
    """
    cache = tokenkit_cache.get_cache()
    calls: list[str] = []
    depth = [0]

    def wrap(name: str) -> Callable[..., Any]:
        real = getattr(cache, name)

        def counted(*args: Any, **kwargs: Any) -> Any:
            if depth[0] == 0:
                calls.append(name)
            depth[0] += 1
            try:
                return real(*args, **kwargs)
            finally:
                depth[0] -= 1

        return counted

    for name in CACHE_METHODS:
        setattr(cache, name, wrap(name))
    yield calls
    for name in CACHE_METHODS:
        vars(cache).pop(name, None)


def access_of(pair: dict[str, Any]) -> tokens.Token:
    return tokens.decode(pair["access"], tokens.ACCESS)


# --- the fast path ------------------------------------------------------------


def test_is_revoked_steady_state_makes_no_query_and_one_round_trip(
    pair: dict[str, Any], cache_calls: list[str], django_assert_num_queries: Any
) -> None:
    token = access_of(pair)
    assert revocation.is_revoked(token) is False
    cache_calls.clear()

    with django_assert_num_queries(0):
        assert revocation.is_revoked(token) is False

    assert cache_calls == ["get_many"]


def test_is_revoked_steady_state_for_revoked_session_makes_no_query(
    pair: dict[str, Any],
    cache_calls: list[str],
    django_assert_num_queries: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    token = access_of(pair)
    with django_capture_on_commit_callbacks(execute=True):
        services.revoke_session_id(token.sid, RevokeReason.ADMIN)
    cache_calls.clear()

    with django_assert_num_queries(0):
        assert revocation.is_revoked(token) is True

    assert cache_calls == ["get_many"]


def test_is_revoked_cache_miss_reads_database_then_caches(
    pair: dict[str, Any], cache_calls: list[str], django_assert_num_queries: Any
) -> None:
    token = access_of(pair)

    with CaptureQueriesContext(connection) as queries:
        assert revocation.is_revoked(token) is False

    assert 1 <= len(queries) <= 2
    assert any(Session._meta.db_table in query["sql"] for query in queries)
    assert cache_calls == ["get_many", "add"]
    assert tokenkit_cache.get_cache().get(revocation.session_key(token.sid)) == revocation.ACTIVE
    with django_assert_num_queries(0):
        assert revocation.is_revoked(token) is False


def test_is_revoked_unknown_session_is_revoked(pair: dict[str, Any], user: Any) -> None:
    token = access_of(pair)
    Session.objects.all().delete()

    assert revocation.is_revoked(token) is True


# --- losing the cache never un-revokes ----------------------------------------


def _revoke_session(token: tokens.Token, user: Any) -> None:
    services.revoke_session_id(token.sid, RevokeReason.ADMIN)


def _revoke_user(token: tokens.Token, user: Any) -> None:
    services.revoke_user(user, RevokeReason.ADMIN)


def _revoke_token(token: tokens.Token, user: Any) -> None:
    services.revoke_token(token, RevokeReason.ADMIN)


@pytest.mark.parametrize(
    "revoke", [_revoke_session, _revoke_user, _revoke_token], ids=["session", "user", "token"]
)
def test_is_revoked_after_cache_cleared_stays_revoked(
    api_client: APIClient,
    pair: dict[str, Any],
    user: Any,
    django_capture_on_commit_callbacks: Any,
    revoke: Callable[[tokens.Token, Any], None],
) -> None:
    token = access_of(pair)
    assert whoami(api_client, pair["access"]).status_code == 200  # cached as active
    with django_capture_on_commit_callbacks(execute=True):
        revoke(token, user)
    assert revocation.is_revoked(token) is True

    caches["default"].clear()
    tokenkit_cache.get_cache().clear()

    assert revocation.is_revoked(token) is True
    assert_unauthorized(whoami(api_client, pair["access"]), "token_revoked")


def test_is_revoked_single_token_after_cache_cleared_spares_sibling(
    api_client: APIClient, pair: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    sibling = api_client.post(REFRESH_URL, {"refresh": pair["refresh"]}, format="json").json()
    token, other = access_of(pair), access_of(sibling)
    with django_capture_on_commit_callbacks(execute=True):
        services.revoke_token(token, RevokeReason.ADMIN)

    caches["default"].clear()

    assert revocation.is_revoked(token) is True
    assert revocation.is_revoked(other) is False


def test_is_revoked_revocation_during_cache_fill_is_not_undone(
    pair: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    # A reader loads "active" from the database; before it writes that to the
    # cache, another process revokes the session and publishes it. The slow
    # reader's write must not bring the session back.
    token = access_of(pair)
    load = revocation._load_session_state

    def load_then_lose_race(sid: str) -> str:
        state = load(sid)
        with django_capture_on_commit_callbacks(execute=True):
            services.revoke_session_id(sid, RevokeReason.ADMIN)
        return state

    monkeypatch.setattr(revocation, "_load_session_state", load_then_lose_race)
    revocation.is_revoked(token)  # answers from its stale read
    monkeypatch.setattr(revocation, "_load_session_state", load)

    assert tokenkit_cache.get_cache().get(revocation.session_key(token.sid)) == revocation.REVOKED
    assert revocation.is_revoked(token) is True


# --- an unreachable cache -----------------------------------------------------


@pytest.fixture
def broken_cache(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point tokenkit at a Redis that is not there (nothing listens on port 1)."""
    settings.CACHES = {
        **settings.CACHES,
        "broken": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2},
        },
    }
    # The suite's settings keep the revocation lease off; its own warning
    # about a lost subscription is tests/test_lease.py's business.
    settings.TOKENKIT = {
        **settings.TOKENKIT,
        "CACHE_ALIAS": "broken",
        "LOGIN_THROTTLE_RATE": "100/min",
    }
    # The warning is rate-limited per process: start each test with none sent.
    monkeypatch.setattr(tokenkit_cache, "_last_warning", float("-inf"))


def tokenkit_warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        record
        for record in caplog.records
        if record.name.startswith("django_tokenkit") and record.levelno == logging.WARNING
    ]


@pytest.mark.usefixtures("broken_cache")
def test_broken_cache_everything_still_works_from_database(
    api_client: APIClient, user: Any, django_capture_on_commit_callbacks: Any
) -> None:
    pair = login(api_client)
    assert whoami(api_client, pair["access"]).status_code == 200

    first = api_client.post(REFRESH_URL, {"refresh": pair["refresh"]}, format="json")
    retry = api_client.post(REFRESH_URL, {"refresh": pair["refresh"]}, format="json")

    assert first.status_code == 200
    assert retry.status_code == 200
    assert retry.json()["access"] == first.json()["access"]
    assert retry.json()["refresh"] == first.json()["refresh"]
    assert IssuedToken.objects.count() == 2
    rotated = first.json()
    assert whoami(api_client, rotated["access"]).status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(LOGOUT_URL, {"refresh": rotated["refresh"]}, format="json")

    assert response.status_code == 204
    assert_unauthorized(whoami(api_client, rotated["access"]), "token_revoked")
    assert_unauthorized(whoami(api_client, pair["access"]), "token_revoked")
    assert_unauthorized(
        api_client.post(REFRESH_URL, {"refresh": rotated["refresh"]}, format="json"),
        "token_revoked",
    )


@pytest.mark.usefixtures("broken_cache")
def test_broken_cache_single_token_revocation_takes_effect(
    api_client: APIClient, user: Any, django_capture_on_commit_callbacks: Any
) -> None:
    pair = login(api_client)
    sibling = api_client.post(REFRESH_URL, {"refresh": pair["refresh"]}, format="json").json()

    with django_capture_on_commit_callbacks(execute=True):
        assert services.revoke_token(access_of(pair), RevokeReason.ADMIN) is True

    assert_unauthorized(whoami(api_client, pair["access"]), "token_revoked")
    assert whoami(api_client, sibling["access"]).status_code == 200


@pytest.mark.usefixtures("broken_cache")
def test_broken_cache_logout_all_takes_effect(
    api_client: APIClient, user: Any, django_capture_on_commit_callbacks: Any
) -> None:
    first, second = login(api_client), login(api_client)

    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(
            LOGOUT_URL, {"all": True}, format="json", **bearer(first["access"])
        )

    assert response.status_code == 204
    for pair in (first, second):
        assert_unauthorized(whoami(api_client, pair["access"]), "token_revoked")


@pytest.mark.usefixtures("broken_cache")
def test_broken_cache_warning_is_rate_limited(
    api_client: APIClient,
    user: Any,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = SimpleNamespace(now=1000.0)
    monkeypatch.setattr(tokenkit_cache, "time", SimpleNamespace(monotonic=lambda: clock.now))
    monkeypatch.setattr(tokenkit_cache, "_last_warning", float("-inf"))  # whatever setup logged

    with caplog.at_level(logging.WARNING):
        pair = login(api_client)
        for _ in range(3):
            assert whoami(api_client, pair["access"]).status_code == 200
        pair = api_client.post(REFRESH_URL, {"refresh": pair["refresh"]}, format="json").json()
        assert whoami(api_client, pair["access"]).status_code == 200
        assert len(tokenkit_warnings(caplog)) == 1

        clock.now += 59
        assert whoami(api_client, pair["access"]).status_code == 200
        assert len(tokenkit_warnings(caplog)) == 1

        clock.now += 2
        assert whoami(api_client, pair["access"]).status_code == 200
        assert len(tokenkit_warnings(caplog)) == 2


@pytest.mark.usefixtures("broken_cache")
def test_broken_cache_login_throttle_lets_requests_through(
    api_client: APIClient, user: Any, settings: Any
) -> None:
    settings.TOKENKIT = {**settings.TOKENKIT, "LOGIN_THROTTLE_RATE": "1/min"}
    body = {"username": "alice", "password": PASSWORD}

    statuses = [api_client.post(LOGIN_URL, body, format="json").status_code for _ in range(3)]

    assert statuses == [200, 200, 200]
