"""A database failure is a clean 503 and leaves nothing half done.

The failures are real: a trigger makes the database itself refuse a write,
so the code under test meets the same exception a failing server raises.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.utils import timezone
from rest_framework.test import APIClient

from django_tokenkit.cache import get_cache
from django_tokenkit.models import IssuedToken, Session
from tests.faults import failing_writes
from tests.helpers import PASSWORD, get, login


def refresh(client: APIClient, raw: str) -> Any:
    return client.post("/api/auth/token/refresh/", {"refresh": raw}, format="json")


def test_refresh_database_failure_is_503_and_rotates_nothing(
    api_client: APIClient, user: Any
) -> None:
    pair = login(api_client)
    # The retiring UPDATE fails after the successor row was inserted: the
    # insert must be rolled back with it.
    with failing_writes("tokenkit_issuedtoken", "UPDATE"):
        response = refresh(api_client, pair["refresh"])
    assert response.status_code == 503
    assert response.json()["code"] == "service_unavailable"
    assert IssuedToken.objects.count() == 1
    assert IssuedToken.objects.get().rotated_at is None
    retry = refresh(api_client, pair["refresh"])  # the client's retry succeeds
    assert retry.status_code == 200
    assert IssuedToken.objects.count() == 2


def test_login_database_failure_is_503_and_records_nothing(
    api_client: APIClient, user: Any
) -> None:
    with failing_writes("tokenkit_issuedtoken", "INSERT"):
        response = api_client.post(
            "/api/auth/token/", {"username": "alice", "password": PASSWORD}, format="json"
        )
    assert response.status_code == 503
    assert response.json()["code"] == "service_unavailable"
    assert Session.objects.count() == 0


def test_logout_database_failure_is_503_and_session_stays_usable(
    api_client: APIClient, user: Any
) -> None:
    pair = login(api_client)
    with failing_writes("tokenkit_session", "UPDATE"):
        response = api_client.post("/api/auth/logout/", {"refresh": pair["refresh"]}, format="json")
    assert response.status_code == 503
    assert response.json()["code"] == "service_unavailable"
    assert Session.objects.get().revoked_at is None
    retry = api_client.post("/api/auth/logout/", {"refresh": pair["refresh"]}, format="json")
    assert retry.status_code == 204


# --- authentication: the database cannot answer -----------------------------


@contextmanager
def table_locked(table: str) -> Iterator[None]:
    """Another connection holds ``table`` exclusively, and this one will not wait.

    PostgreSQL: ``LOCK TABLE ... ACCESS EXCLUSIVE`` from a second connection,
    and a ``lock_timeout`` on ours, so the next read of ``table`` fails with
    ``LockNotAvailable``. SQLite (the test database is an in-memory database
    in shared-cache mode): a second connection with an open write on
    ``table``, so the next read fails with "database table is locked". Needs
    ``transactional_db``: the failed read must not poison a test transaction.
    """
    other = connections.create_connection(DEFAULT_DB_ALIAS)
    postgresql = connection.vendor == "postgresql"
    try:
        other.set_autocommit(False)
        with other.cursor() as cursor:
            if postgresql:
                cursor.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
            else:
                cursor.execute(f"UPDATE {table} SET id = id")
        if postgresql:
            with connection.cursor() as cursor:
                cursor.execute("SET lock_timeout = '50ms'")
        yield
    finally:
        other.rollback()
        other.close()
        if postgresql:
            with connection.cursor() as cursor:
                cursor.execute("RESET lock_timeout")


def assert_service_unavailable(response: Any) -> None:
    assert response.status_code == 503, response.content
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "detail": "Service temporarily unavailable, try again.",
        "code": "service_unavailable",
    }


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/api/me/", id="application-view-drf-default-handler"),
        pytest.param("/api/whoami/", id="application-view-tokenkit-handler"),
        pytest.param("/api/auth/sessions/", id="tokenkit-view"),
    ],
)
@pytest.mark.parametrize("table", ["tokenkit_session", "auth_user"])
def test_authentication_database_failure_is_503_with_code_on_any_view(
    transactional_db: Any, user: Any, path: str, table: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The session state or the user cannot be read: 503, never 500 or 401."""
    pair = login(APIClient())
    # Login put the new session's state in the cache: lose it, as a Redis
    # restart would, so this request must read the session row.
    get_cache().clear()
    client = APIClient(raise_request_exception=False)
    with table_locked(table), caplog.at_level(logging.ERROR, "django_tokenkit"):
        response = get(client, pair["access"], path)

    assert_service_unavailable(response)
    records = [record for record in caplog.records if record.name.startswith("django_tokenkit")]
    assert len(records) == 1  # logged once, with its traceback
    assert records[0].name == "django_tokenkit.authentication"
    assert records[0].exc_info is not None
    assert pair["access"] not in caplog.text
    assert get(client, pair["access"], path).status_code == 200  # the token was good all along


def test_logout_all_database_failure_during_authentication_is_503(
    transactional_db: Any, user: Any
) -> None:
    pair = login(APIClient())
    with table_locked("tokenkit_session"):
        response = APIClient(raise_request_exception=False).post(
            "/api/auth/logout/",
            {"all": True},
            format="json",
            HTTP_AUTHORIZATION=f"Bearer {pair['access']}",
        )
    assert_service_unavailable(response)


def test_middleware_database_failure_during_renewal_answers_without_new_token(
    transactional_db: Any,
    user: Any,
    settings: Any,
    time_machine: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Authenticated from the cache, the view answers; recording the renewal fails."""
    time_machine.move_to(timezone.now(), tick=False)
    pair = login(APIClient())
    client = APIClient(raise_request_exception=False)
    assert "X-New-Token" not in get(client, pair["access"], "/api/me/")  # caches session and user
    time_machine.shift(timedelta(minutes=2))  # well within the cache's 300 s
    # Every token is now due for renewal, which records the session's last use.
    settings.TOKENKIT = {**settings.TOKENKIT, "SLIDING_THRESHOLD": timedelta(minutes=15)}
    with table_locked("tokenkit_session"), caplog.at_level(logging.ERROR, "django_tokenkit"):
        response = get(client, pair["access"], "/api/me/")

    assert response.status_code == 200, response.content
    assert response.json() == {"username": "alice"}
    assert "X-New-Token" not in response
    assert [record.name for record in caplog.records] == ["django_tokenkit.middleware"]
    assert pair["access"] not in caplog.text
