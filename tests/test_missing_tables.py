"""A forgotten ``migrate`` is a 503 whose log line, and DEBUG body, say "run migrate".

The table is really gone: renamed inside the test's transaction, so the
database itself answers "no such table" (SQLite) or "relation ... does not
exist" (PostgreSQL), and renamed back afterwards.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.core.cache import cache
from django.db import DatabaseError, connection, transaction
from rest_framework.test import APIClient

from django_tokenkit import dberrors
from tests.helpers import LOGIN_URL, PASSWORD, login, whoami

LOGGER = "django_tokenkit"


@contextmanager
def table_missing(table: str) -> Iterator[None]:
    """``table`` does not exist until the block ends."""
    hidden = f"{table}_hidden"
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {table} RENAME TO {hidden}")
    # A failed statement outside a savepoint aborts PostgreSQL's transaction
    # (authentication reads without one); rolling back to here recovers it.
    savepoint = transaction.savepoint()
    try:
        yield
    finally:
        transaction.savepoint_rollback(savepoint)
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE {hidden} RENAME TO {table}")


def post_login(client: APIClient) -> Any:
    return client.post(LOGIN_URL, {"username": "alice", "password": PASSWORD}, format="json")


@pytest.mark.parametrize("debug", [True, False])
def test_login_missing_table_is_503_saying_run_migrate(
    settings: Any, api_client: APIClient, user: Any, caplog: Any, debug: bool
) -> None:
    settings.DEBUG = debug

    with (
        caplog.at_level(logging.ERROR, logger="django_tokenkit"),
        table_missing("tokenkit_session"),
    ):
        response = post_login(api_client)

    assert response.status_code == 503
    assert response.json()["code"] == "service_unavailable"
    assert ("run `python manage.py migrate`" in response.json()["detail"]) is debug
    assert any("run `python manage.py migrate`" in record.getMessage() for record in caplog.records)


def test_authentication_missing_table_is_503_saying_run_migrate(
    settings: Any, api_client: APIClient, user: Any, caplog: Any
) -> None:
    settings.DEBUG = True
    pair = login(api_client)
    cache.clear()  # the revocation state must come from the database

    with (
        caplog.at_level(logging.ERROR, logger="django_tokenkit"),
        table_missing("tokenkit_session"),
    ):
        response = whoami(api_client, pair)

    assert response.status_code == 503
    assert "migrate" in response.json()["detail"]
    assert any("run `python manage.py migrate`" in record.getMessage() for record in caplog.records)


def test_dberrors_missing_table_only_for_tokenkit_tables(
    settings: Any, api_client: APIClient, user: Any, caplog: Any
) -> None:
    """Only a missing tokenkit table says "migrate": a foreign table's absence does not."""
    settings.DEBUG = True

    assert not dberrors.missing_table(DatabaseError('relation "shop_order" does not exist'))
    assert not dberrors.missing_table(DatabaseError("could not connect to server"))
    assert dberrors.missing_table(DatabaseError("no such table: tokenkit_session"))
    with caplog.at_level(logging.ERROR, logger="django_tokenkit"):
        response = post_login(api_client)
    assert response.status_code == 200
    assert not any("migrate" in record.getMessage() for record in caplog.records)
