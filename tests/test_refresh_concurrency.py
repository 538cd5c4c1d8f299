"""Concurrent refreshes of one token in one process, with real threads.

The multi-process version, against gunicorn servers sharing PostgreSQL and
Redis, is in ``test_e2e_refresh.py``.
"""

from __future__ import annotations

import threading
from typing import Any

from django.db import connection
from rest_framework.test import APIClient

from django_tokenkit.models import IssuedToken
from tests.conftest import login

THREADS = 20


def test_refresh_concurrent_threads_rotate_once_and_all_get_the_same_pair(
    transactional_db: Any, user: Any
) -> None:
    pair = login(APIClient())
    barrier = threading.Barrier(THREADS)
    responses: list[tuple[int, bytes]] = []
    lock = threading.Lock()

    def refresh() -> None:
        client = APIClient()
        barrier.wait()
        try:
            response = client.post(
                "/api/auth/token/refresh/", {"refresh": pair["refresh"]}, format="json"
            )
            with lock:
                responses.append((response.status_code, response.content))
        finally:
            connection.close()

    threads = [threading.Thread(target=refresh) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert [status for status, _ in responses] == [200] * THREADS
    assert len({body for _, body in responses}) == 1
    assert IssuedToken.objects.count() == 2  # the original and exactly one successor
    assert IssuedToken.objects.filter(rotated_at__isnull=True).count() == 1
