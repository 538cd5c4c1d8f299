"""Concurrent refreshes of one token in one process, with real threads.

The multi-process version, against gunicorn servers sharing PostgreSQL and
Redis, is in ``test_e2e_refresh.py``.
"""

from __future__ import annotations

import json
import os
import threading
from typing import Any

import pytest
from django.db import connection
from rest_framework.test import APIClient

from django_tokenkit.models import IssuedToken
from tests.helpers import login
from tests.keypairs import ALGORITHMS, assert_same_token, signing_settings

THREADS = 20


def race_refreshes(raw: str, count: int = THREADS) -> list[tuple[int, bytes]]:
    """``count`` threads released at once, each refreshing ``raw`` once."""
    barrier = threading.Barrier(count)
    responses: list[tuple[int, bytes]] = []
    lock = threading.Lock()

    def refresh() -> None:
        client = APIClient()
        barrier.wait()
        try:
            response = client.post("/api/auth/token/refresh/", {"refresh": raw}, format="json")
            with lock:
                responses.append((response.status_code, response.content))
        finally:
            connection.close()

    threads = [threading.Thread(target=refresh) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return responses


@pytest.fixture(params=ALGORITHMS)
def algorithm(request: pytest.FixtureRequest, settings: Any) -> str:
    """Sign with each algorithm in turn; the replay guarantee must hold for all."""
    name: str = request.param
    settings.TOKENKIT = signing_settings(name, **settings.TOKENKIT)
    return name


def assert_same_pairs(algorithm: str, bodies: list[dict[str, Any]]) -> None:
    """Every response is the first one's pair: same claims and jti, same bytes if deterministic."""
    first = bodies[0]
    for body in bodies[1:]:
        assert {k: v for k, v in body.items() if k not in {"access", "refresh"}} == {
            k: v for k, v in first.items() if k not in {"access", "refresh"}
        }
        assert_same_token(algorithm, first["access"], body["access"])
        assert_same_token(algorithm, first["refresh"], body["refresh"])


def test_refresh_concurrent_threads_rotate_once_and_all_get_the_same_pair(
    transactional_db: Any, user: Any, algorithm: str
) -> None:
    pair = login(APIClient())
    responses = race_refreshes(pair["refresh"])

    assert [status for status, _ in responses] == [200] * THREADS
    assert_same_pairs(algorithm, [json.loads(body) for _, body in responses])
    assert IssuedToken.objects.count() == 2  # the original and exactly one successor
    assert IssuedToken.objects.filter(rotated_at__isnull=True).count() == 1


def test_refresh_replay_after_successor_rotated_returns_live_head(
    api_client: APIClient, user: Any, algorithm: str
) -> None:
    """A late retry of A, after A->B->C within A's grace period, gets C, not the retired B."""
    first = login(api_client)

    def refresh(raw: str) -> Any:
        return api_client.post("/api/auth/token/refresh/", {"refresh": raw}, format="json")

    second = refresh(first["refresh"]).json()
    third = refresh(second["refresh"]).json()
    replay = refresh(first["refresh"])
    assert replay.status_code == 200
    assert_same_pairs(algorithm, [third, replay.json()])
    assert refresh(replay.json()["refresh"]).status_code == 200


@pytest.mark.skipif(
    os.environ.get("DATABASE_URL", "").split(":")[0] not in {"postgres", "postgresql"},
    reason="needs PostgreSQL: SQLite has no row locks for refreshes to wait on",
)
def test_refresh_concurrent_threads_without_cache_lock_rotate_once_on_row_lock(
    transactional_db: Any, user: Any, settings: Any
) -> None:
    """With no shared lock (here a dummy cache) the database alone must hold the line.

    Every refresh waits on the token's row lock; the waiters must see the
    rotation the first one committed, not take the retired token for a reuse.
    """
    settings.CACHES = {
        **settings.CACHES,
        "dummy": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"},
    }
    settings.TOKENKIT = {**settings.TOKENKIT, "CACHE_ALIAS": "dummy"}
    pair = login(APIClient())
    responses = race_refreshes(pair["refresh"])

    assert [status for status, _ in responses] == [200] * THREADS
    assert len({body for _, body in responses}) == 1
    assert IssuedToken.objects.count() == 2
    assert IssuedToken.objects.filter(revoked_at__isnull=False).count() == 0
