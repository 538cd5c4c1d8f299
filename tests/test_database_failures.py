"""A database failure is a clean 503 and leaves nothing half done.

The failures are real: a trigger makes the database itself refuse a write,
so the code under test meets the same exception a failing server raises.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connection
from rest_framework.test import APIClient

from django_tokenkit.models import IssuedToken, Session
from tests.conftest import PASSWORD, login


@contextmanager
def failing_writes(table: str, operation: str) -> Iterator[None]:
    """Make every ``operation`` (INSERT/UPDATE) on ``table`` fail inside the database."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "CREATE FUNCTION tokenkit_fail() RETURNS trigger AS "
                "$$ BEGIN RAISE EXCEPTION 'injected failure'; END $$ LANGUAGE plpgsql"
            )
            cursor.execute(
                f"CREATE TRIGGER tokenkit_fail BEFORE {operation} ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION tokenkit_fail()"
            )
        else:
            cursor.execute(
                f"CREATE TRIGGER tokenkit_fail BEFORE {operation} ON {table} "
                "BEGIN SELECT RAISE(ABORT, 'injected failure'); END"
            )
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(f"DROP TRIGGER tokenkit_fail ON {table}")
                cursor.execute("DROP FUNCTION tokenkit_fail()")
            else:
                cursor.execute("DROP TRIGGER tokenkit_fail")


def refresh(client: APIClient, raw: str) -> Any:
    return client.post("/api/auth/token/refresh/", {"refresh": raw}, format="json")


def test_refresh_database_failure_is_503_and_rotates_nothing(
    api_client: APIClient, user: Any
) -> None:
    pair = login(api_client)
    # The retiring UPDATE fails after the successor row was inserted: the
    # insert must be rolled back with it.
    with failing_writes("django_tokenkit_issuedtoken", "UPDATE"):
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
    with failing_writes("django_tokenkit_issuedtoken", "INSERT"):
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
    with failing_writes("django_tokenkit_session", "UPDATE"):
        response = api_client.post("/api/auth/logout/", {"refresh": pair["refresh"]}, format="json")
    assert response.status_code == 503
    assert response.json()["code"] == "service_unavailable"
    assert Session.objects.get().revoked_at is None
    retry = api_client.post("/api/auth/logout/", {"refresh": pair["refresh"]}, format="json")
    assert retry.status_code == 204
