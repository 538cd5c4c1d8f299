"""Refresh rotation without races across real server processes (SPEC section 6).

Two gunicorn servers of the example project, two sync workers each, share a
PostgreSQL database and a Redis cache. "N concurrent refreshes with one
token, across several processes, end in exactly one rotation and N identical
200 responses" is tested with 50 real concurrent requests; the rotation is
counted in the database the servers write to.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from functools import partial
from typing import Any

import pytest
import requests

from tests.e2e import (
    HTTP_TIMEOUT,
    Server,
    SharedServices,
    on_every_worker,
    run_concurrently,
    running_servers,
    unverified_claims,
)

pytestmark = [pytest.mark.e2e, pytest.mark.services]

CONCURRENT_REFRESHES = 50
#: Long enough for 50 queued refreshes to all be replays, short enough to wait out.
GRACE_PERIOD = 3


@pytest.fixture(scope="module")
def servers(
    e2e_services: SharedServices, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[Server]]:
    env = e2e_services.env(TOKENKIT_REFRESH_GRACE_PERIOD=str(GRACE_PERIOD))
    with running_servers(env, tmp_path_factory.mktemp("refresh"), count=2, workers=2) as started:
        yield started


def post_refresh(server: Server, refresh: str, probe: str = "") -> requests.Response:
    """Refresh on ``server``; ``probe`` tags the request in its access log."""
    path = f"/api/auth/token/refresh/?probe={probe}" if probe else "/api/auth/token/refresh/"
    return requests.post(server.url(path), json={"refresh": refresh}, timeout=HTTP_TIMEOUT)


def issued_tokens(services: SharedServices, sid: str) -> list[tuple[Any, ...]]:
    """``(jti, rotated_at, revoked_at)`` of each refresh token of session ``sid``."""
    return services.query(
        "SELECT jti, rotated_at, revoked_at FROM tokenkit_issuedtoken "
        "WHERE session_id = %s::uuid ORDER BY issued_at",
        [sid],
    )


def test_refresh_fifty_concurrent_on_two_servers_rotate_once_with_identical_responses(
    servers: list[Server], e2e_services: SharedServices
) -> None:
    first, second = servers
    pair = first.login("demo", "demo-password")
    old = unverified_claims(pair["refresh"])
    for server in servers:
        # Every worker opens its database connection now, so that none starts
        # the race late and all four can reach the refresh's transaction at once.
        warmed = on_every_worker(server, pair["access"], "/api/notes/")
        assert {response.status_code for response in warmed} == {200}

    probes = [f"refresh{index}" for index in range(CONCURRENT_REFRESHES)]
    responses = run_concurrently(
        [
            partial(post_refresh, servers[index % 2], pair["refresh"], probe)
            for index, probe in enumerate(probes)
        ]
    )

    statuses = [response.status_code for response in responses]
    assert statuses == [200] * CONCURRENT_REFRESHES, [r.text for r in responses if not r.ok]
    bodies = {response.content for response in responses}
    assert len(bodies) == 1, f"{len(bodies)} different bodies"
    for index, server in enumerate(servers):
        # Every worker of both servers took part: four processes raced.
        answered = server.served_by(probes[index::2])
        assert set(answered.values()) == server.worker_pids()
    new_pair = responses[0].json()
    assert new_pair["refresh"] != pair["refresh"]
    assert new_pair["access"] != pair["access"]
    rows = issued_tokens(e2e_services, old["sid"])
    assert len(rows) == 2, rows  # the original and exactly one successor
    (retired,) = [row for row in rows if row[1] is not None]
    (current,) = [row for row in rows if row[1] is None]
    assert retired[0] == old["jti"]
    assert current[0] == unverified_claims(new_pair["refresh"])["jti"]
    rotated_at = retired[1]

    # The client carries on with the new pair, on either server.
    for server in servers:
        assert server.me(new_pair["access"]).status_code == 200
    again = post_refresh(second, new_pair["refresh"])
    assert again.status_code == 200, again.text
    latest = again.json()
    assert len(issued_tokens(e2e_services, old["sid"])) == 3

    # The original refresh token, after its grace period, is a reuse: the session ends.
    time.sleep(max(rotated_at.timestamp() + GRACE_PERIOD + 0.5 - time.time(), 0))
    reused = post_refresh(first, pair["refresh"])
    assert reused.status_code == 401, reused.text
    assert reused.json()["code"] == "token_reused"
    for server in servers:
        for access in (latest["access"], new_pair["access"]):
            refused = on_every_worker(server, access)
            assert {(r.status_code, r.json().get("code")) for r in refused} == {
                (401, "token_revoked")
            }
        latest_refresh = post_refresh(server, latest["refresh"])
        assert latest_refresh.status_code == 401
        assert latest_refresh.json()["code"] == "token_revoked"
    assert all(row[2] is not None for row in issued_tokens(e2e_services, old["sid"]))
