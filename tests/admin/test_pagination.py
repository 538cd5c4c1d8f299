"""The estimated-count paginator: no COUNT(*) over a large unfiltered PostgreSQL table."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from django_tokenkit.admin.pagination import EstimatedCountPaginator
from django_tokenkit.models import Session
from tests.admin.helpers import (
    SESSIONS_URL,
    make_sessions,
    make_users,
    on_postgres,
)


def test_paginator_counts_exactly_off_postgres_or_when_filtered(user: Any) -> None:
    make_sessions(3, [user])
    paginator = EstimatedCountPaginator(Session.objects.order_by("pk"), 2)
    if connection.vendor != "postgresql":
        assert paginator.count == 3
        assert paginator.is_estimate is False
    filtered = EstimatedCountPaginator(Session.objects.filter(user=user).order_by("pk"), 2)
    assert filtered.count == 3
    assert filtered.is_estimate is False


@on_postgres
def test_paginator_on_large_postgres_table_uses_the_estimate_not_count(
    admin_client: Client, db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_sessions(30, make_users(3))
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Session._meta.db_table}")
    monkeypatch.setattr(EstimatedCountPaginator, "estimate_threshold", 10)
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
    paginator = EstimatedCountPaginator(Session.objects.order_by("pk"), 2)
    assert paginator.count == 3
    assert paginator.is_estimate is False
