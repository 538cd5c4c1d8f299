"""Sliding expiration across real server processes (SPEC section 6).

Two gunicorn servers of the example project, two sync workers each, share a
PostgreSQL database and a Redis cache. "Concurrent requests carrying the same
old token get the same new token: at most one new token per old token, across
processes" is tested with real concurrent requests at all four workers.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
import requests

from tests.e2e import (
    HTTP_TIMEOUT,
    Server,
    SharedServices,
    bearer,
    on_every_worker,
    run_concurrently,
    running_servers,
    unverified_claims,
)

pytestmark = [pytest.mark.e2e, pytest.mark.services]

CONCURRENT_REQUESTS = 20


def _start_pair(services: SharedServices, workdir: Path, **env: str) -> Iterator[list[Server]]:
    with running_servers(services.env(**env), workdir, count=2, workers=2) as servers:
        yield servers


@pytest.fixture(scope="module")
def renewing_servers(
    e2e_services: SharedServices, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[Server]]:
    """Access tokens live 60 s and are renewable once 59 s are left: about at once."""
    yield from _start_pair(
        e2e_services,
        tmp_path_factory.mktemp("sliding_renewing"),
        TOKENKIT_ACCESS_TOKEN_LIFETIME="60",
        TOKENKIT_SLIDING_THRESHOLD="59",
    )


@pytest.fixture(scope="module")
def short_lived_servers(
    e2e_services: SharedServices, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[Server]]:
    """Access tokens live 4 s, renewable in their last 3 s, with no leeway."""
    yield from _start_pair(
        e2e_services,
        tmp_path_factory.mktemp("sliding_short"),
        TOKENKIT_ACCESS_TOKEN_LIFETIME="4",
        TOKENKIT_SLIDING_THRESHOLD="3",
        TOKENKIT_LEEWAY="0",
    )


def wait_until_renewable(access: str, threshold: int) -> None:
    """Sleep until ``access`` has at most ``threshold`` seconds left.

    ``exp`` is a whole second, so a fresh token may have up to one second
    more than its lifetime's worth of threshold.
    """
    renewable_at = unverified_claims(access)["exp"] - threshold
    time.sleep(max(renewable_at - time.time() + 0.05, 0))


def test_sliding_concurrent_requests_on_two_servers_get_one_new_token(
    renewing_servers: list[Server],
) -> None:
    first, second = renewing_servers
    access = first.login("demo", "demo-password")["access"]
    old = unverified_claims(access)
    bystander = second.login("demo", "demo-password")["access"]
    for server in renewing_servers:
        # Every worker connects to the database and Redis now, with another
        # session's token, so all four start the race on an equal footing.
        on_every_worker(server, bystander)
    wait_until_renewable(access, 59)

    responses = run_concurrently(
        [partial(renewing_servers[index % 2].me, access) for index in range(CONCURRENT_REQUESTS)]
    )

    assert [response.status_code for response in responses] == [200] * CONCURRENT_REQUESTS
    new_tokens = {response.headers.get("X-New-Token") for response in responses}
    assert None not in new_tokens, "a response lacks X-New-Token"
    assert len(new_tokens) == 1, f"{len(new_tokens)} distinct renewals of one token"
    (new_access,) = new_tokens
    assert new_access is not None
    new = unverified_claims(new_access)
    assert (new["sid"], new["sub"], new["auth_time"]) == (old["sid"], old["sub"], old["auth_time"])
    assert new["jti"] != old["jti"]
    assert new["exp"] > old["exp"]
    for response in responses:
        assert 0 < int(response.headers["X-New-Token-Expires-In"]) <= 60
        exposed = response.headers["Access-Control-Expose-Headers"]
        assert {"X-New-Token", "X-New-Token-Expires-In"} <= {
            name.strip() for name in exposed.split(",")
        }
    for server in renewing_servers:
        me = server.me(new_access)
        assert me.status_code == 200, me.text
        assert me.json() == {"username": "demo"}
    assert second.me(access).status_code == 200  # the old token stays good until it expires


def test_sliding_client_adopting_new_token_keeps_working_past_old_expiry(
    short_lived_servers: list[Server],
) -> None:
    original = short_lived_servers[0].login("demo", "demo-password")["access"]
    original_exp = unverified_claims(original)["exp"]
    current = original
    statuses: list[tuple[int, str]] = []
    adopted = 0
    calls = 0

    # Runs until the original token has been dead for two seconds: about 6 s.
    while time.time() < original_exp + 2:
        response = short_lived_servers[calls % 2].me(current)
        calls += 1
        statuses.append((response.status_code, response.text))
        new_token = response.headers.get("X-New-Token")
        if new_token is not None:
            current = new_token
            adopted += 1
        time.sleep(0.2)

    assert [status for status, _ in statuses if status != 200] == [], statuses
    assert adopted >= 3
    assert unverified_claims(current)["exp"] > original_exp
    assert unverified_claims(current)["sid"] == unverified_claims(original)["sid"]
    for server in short_lived_servers:
        expired = requests.get(
            server.url("/api/me/"), headers=bearer(original), timeout=HTTP_TIMEOUT
        )
        assert expired.status_code == 401
        assert expired.json()["code"] == "token_expired"
        assert server.me(current).status_code == 200
