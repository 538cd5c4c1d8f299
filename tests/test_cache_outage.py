"""A real Redis that goes away and comes back empty (SPEC section 6, issue: safety).

The suite starts a private ``redis-server`` on a free port, warms tokenkit's
state in it, stops it in the middle of the test and starts it again with
nothing in it, as a crash or a restart without persistence would.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from rest_framework.test import APIClient

from django_tokenkit import cache as tokenkit_cache
from django_tokenkit.models import IssuedToken
from tests.faults import REDIS_SERVER, PrivateRedis, free_port
from tests.helpers import PASSWORD, login, whoami

pytestmark = pytest.mark.skipif(REDIS_SERVER is None, reason="needs the redis-server binary")


@pytest.fixture
def private_redis(settings: Any) -> Iterator[PrivateRedis]:
    server = PrivateRedis(port=free_port())
    server.start()
    settings.CACHES = {
        **settings.CACHES,
        "outage": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": server.url,
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5},
        },
    }
    settings.TOKENKIT = {**settings.TOKENKIT, "CACHE_ALIAS": "outage"}
    try:
        yield server
    finally:
        server.stop()


def test_cache_outage_and_empty_restart_keep_auth_working_and_revocations_in_force(
    private_redis: PrivateRedis,
    api_client: APIClient,
    user: Any,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    monkeypatch.setattr(tokenkit_cache, "_last_warning", 0.0)
    kept, ended = login(api_client), login(APIClient())
    assert whoami(api_client, kept).status_code == 200  # both cached as active
    assert whoami(api_client, ended).status_code == 200

    private_redis.stop()
    caplog.set_level(logging.WARNING, logger="django_tokenkit")

    assert whoami(api_client, kept).status_code == 200  # from the database
    with django_capture_on_commit_callbacks(execute=True):
        logout = api_client.post("/api/auth/logout/", {"refresh": ended["refresh"]}, format="json")
    assert logout.status_code == 204
    assert whoami(api_client, ended).json()["code"] == "token_revoked"
    refreshed = api_client.post(
        "/api/auth/token/refresh/", {"refresh": kept["refresh"]}, format="json"
    )
    assert refreshed.status_code == 200
    assert IssuedToken.objects.filter(rotated_at__isnull=False).count() == 1  # one rotation
    relogin = api_client.post(
        "/api/auth/token/", {"username": "alice", "password": PASSWORD}, format="json"
    )
    assert relogin.status_code == 200
    warnings = [
        r
        for r in caplog.records
        if r.name.startswith("django_tokenkit") and r.levelno == logging.WARNING
    ]
    assert len(warnings) == 1  # rate-limited, not one per request
    assert "unavailable" in warnings[0].getMessage()

    # Back, but empty: the revocation written while it was down still holds.
    private_redis.start()
    assert whoami(api_client, ended).json()["code"] == "token_revoked"
    assert whoami(api_client, refreshed.json()).status_code == 200
