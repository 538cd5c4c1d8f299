"""The revocation lease as shipped: on by default with Redis, across real servers (#16).

Two gunicorn servers of the example project, two workers each, with the
example's defaults: tokenkit's cache is Redis, so the lease is on (50 ms)
without being asked for. They share a PostgreSQL database and a
``redis-server`` of this module's own, so that the test can count the reads
Redis serves (``INFO commandstats``), empty it and stop it.

Every test first has each worker of both servers answer the session from
its own memory: a burst of requests that reached the worker made Redis serve
no read. Then a revocation on one server must be refused by every worker of
the other on its very next request:

- under sync, gthread and uvicorn workers, and with ``--preload`` (the
  application imported in the master before it forks the workers);
- by a worker frozen with ``SIGSTOP`` while the logout happened elsewhere;
- after Redis lost its contents (``FLUSHDB``) between warm-up and logout;
- for a logout made while Redis is stopped (the outbox path), and for one
  made once it runs again (on the same port, empty).

``tests/test_e2e_revocation.py`` and ``tests/test_e2e_partition.py`` run
their cross-server tests with the default and with the lease turned off;
``tests/test_lease.py`` forks a process after its first request.
"""

from __future__ import annotations

import os
import secrets
import signal
import time
from collections.abc import Iterator
from functools import partial
from typing import Any

import pytest
import redis
import requests

from tests.e2e import (
    HTTP_TIMEOUT,
    Server,
    SharedServices,
    bearer,
    expect_lease_subscriptions,
    on_every_worker,
    run_concurrently,
    running_servers,
)
from tests.faults import REDIS_SERVER, PrivateRedis, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.services]

USERNAME, PASSWORD = "demo", "demo-password"
SERVERS, WORKERS = 2, 2
#: Each kind of server: gunicorn's worker kind (tests.e2e.WORKER_KINDS), and --preload.
KINDS = {
    "sync": ("sync", False),
    "gthread": ("gthread", False),
    "uvicorn": ("uvicorn", False),
    "sync-preload": ("sync", True),
}
#: Bursts tried before a worker is declared never to answer from memory.
MAX_BURSTS = 40
#: The example project's default REVOCATION_OUTBOX_INTERVAL is one second.
OUTBOX_INTERVAL = 1.0


def redis_reads(url: str) -> int:
    """How many reads (``GET``/``MGET``) the Redis at ``url`` has served since it started."""
    client = redis.Redis.from_url(url, socket_timeout=2)
    try:
        stats = client.info("commandstats")
    finally:
        client.close()
    return sum(int(stats.get(f"cmdstat_{name}", {}).get("calls", 0)) for name in ("get", "mget"))


class Cluster:
    """The servers, the Redis they share, and the database behind them."""

    def __init__(self, servers: list[Server], redis_server: PrivateRedis, services: SharedServices):
        self.servers = servers
        self.redis_server = redis_server
        self.services = services

    @property
    def redis_url(self) -> str:
        return self.redis_server.url

    def answer_from_memory(self, server: Server, access: str) -> None:
        """Send bursts to ``server`` until each worker answered ``access`` from memory.

        A burst counts for the workers that answered it when Redis served no
        read meanwhile (the other server is idle). The first burst a worker
        answers fills its memory; a lapse of the lease on a busy machine
        empties it, hence the retries.
        """
        remembered: set[int] = set()
        for _ in range(MAX_BURSTS):
            probes = [secrets.token_hex(8) for _ in range(4)]
            before = redis_reads(self.redis_url)
            responses = run_concurrently(
                [partial(server.get, "/api/me/", access, probe) for probe in probes]
            )
            reads = redis_reads(self.redis_url) - before
            assert {response.status_code for response in responses} == {200}
            if reads == 0:
                remembered |= set(server.served_by(probes).values())
            if remembered >= server.worker_pids():
                return
        pytest.fail(
            f"workers {sorted(server.worker_pids() - remembered)} never answered from memory"
        )

    def unpublished(self) -> int:
        rows = self.services.query("SELECT count(*) FROM tokenkit_pendingrevocation")
        return int(rows[0][0])


@pytest.fixture(scope="module")
def redis_server() -> Iterator[PrivateRedis]:
    if REDIS_SERVER is None:
        pytest.skip("needs the redis-server binary")
    server = PrivateRedis(port=free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def cluster(
    request: pytest.FixtureRequest,
    e2e_services: SharedServices,
    redis_server: PrivateRedis,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Cluster]:
    """Two servers of the kind ``request.param`` names, with the example's defaults."""
    worker_kind, preload = KINDS[request.param]
    with running_servers(
        # Only REDIS_URL: no TOKENKIT_REVOCATION_LEASE_MS, so the lease is tokenkit's default.
        e2e_services.env(REDIS_URL=redis_server.url),
        tmp_path_factory.mktemp(f"lease-{request.param}"),
        count=SERVERS,
        workers=WORKERS,
        worker_kind=worker_kind,
        preload=preload,
    ) as servers:
        yield Cluster(servers, redis_server, e2e_services)


def logout(server: Server, pair: dict[str, Any]) -> None:
    response = requests.post(
        server.url("/api/auth/logout/"),
        json={"refresh": pair["refresh"]},
        headers=bearer(pair["access"]),
        timeout=HTTP_TIMEOUT,
    )
    assert response.status_code == 204, response.text


def expect_revoked(server: Server, access: str) -> None:
    """Every worker of ``server`` refuses ``access``, on each request it answers."""
    responses = on_every_worker(server, access)
    assert {(r.status_code, r.json().get("code")) for r in responses} == {(401, "token_revoked")}


def expect_accepted(server: Server, access: str) -> None:
    responses = on_every_worker(server, access)
    assert {r.status_code for r in responses} == {200}


def assert_refused(response: requests.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.json()["code"] == "token_revoked"


@pytest.mark.parametrize("cluster", list(KINDS), indirect=True)
def test_lease_default_logout_refused_on_next_request_by_workers_answering_from_memory(
    cluster: Cluster,
) -> None:
    first, second = cluster.servers
    pair = first.login(USERNAME, PASSWORD)
    bystander = second.login(USERNAME, PASSWORD)
    for server in cluster.servers:
        cluster.answer_from_memory(server, pair["access"])
    # One lease thread per worker; none in a master, even one that imported the app.
    expect_lease_subscriptions(cluster.redis_url, SERVERS * WORKERS)

    logout(first, pair)
    very_next = second.me(pair["access"])

    assert_refused(very_next)
    for server in (second, first):
        expect_revoked(server, pair["access"])
    # Only that session ended: the same user's other one still works everywhere.
    for server in cluster.servers:
        expect_accepted(server, bystander["access"])


@pytest.mark.parametrize("cluster", ["sync"], indirect=True)
def test_lease_default_worker_frozen_during_a_logout_refuses_the_session_once_thawed(
    cluster: Cluster,
) -> None:
    first, second = cluster.servers
    pair = first.login(USERNAME, PASSWORD)
    for server in cluster.servers:
        cluster.answer_from_memory(server, pair["access"])
    frozen, awake = sorted(second.worker_pids())

    # Its lease thread stops with it, so the lease it held lapses meanwhile.
    # Thawed well within gunicorn's worker timeout (30 s) and the lease's
    # STALL_TIMEOUT (5 s): the same worker, on the same subscription.
    os.kill(frozen, signal.SIGSTOP)
    try:
        logout(first, pair)
        probe = secrets.token_hex(8)
        assert_refused(second.me(pair["access"], probe))
        assert second.served_by([probe]) == {probe: awake}
    finally:
        os.kill(frozen, signal.SIGCONT)

    # Bursts until each worker answered, the thawed one included: every answer a refusal.
    expect_revoked(second, pair["access"])
    assert second.worker_pids() == {frozen, awake}  # the same process, not a replacement
    expect_revoked(first, pair["access"])


@pytest.mark.parametrize("cluster", ["sync"], indirect=True)
def test_lease_default_redis_flushed_after_warm_up_logout_refused_on_next_request(
    cluster: Cluster,
) -> None:
    first, second = cluster.servers
    pair = first.login(USERNAME, PASSWORD)
    bystander = first.login(USERNAME, PASSWORD)
    for server in cluster.servers:
        cluster.answer_from_memory(server, pair["access"])
        cluster.answer_from_memory(server, bystander["access"])

    client = redis.Redis.from_url(cluster.redis_url, socket_timeout=2)
    try:
        client.flushdb()  # the subscriptions survive it; every cached state is gone
    finally:
        client.close()
    logout(first, pair)

    assert_refused(second.me(pair["access"]))
    for server in (second, first):
        expect_revoked(server, pair["access"])
        expect_accepted(server, bystander["access"])


@pytest.mark.parametrize("cluster", ["sync"], indirect=True)
def test_lease_default_redis_restarted_logouts_while_down_and_after_refused_everywhere(
    cluster: Cluster,
) -> None:
    first, second = cluster.servers
    while_down = first.login(USERNAME, PASSWORD)
    after = first.login(USERNAME, PASSWORD)
    for server in cluster.servers:
        cluster.answer_from_memory(server, while_down["access"])
        cluster.answer_from_memory(server, after["access"])

    cluster.redis_server.stop()
    try:
        logout(first, while_down)  # the database, and the outbox for Redis
        assert cluster.unpublished() >= 1
        assert_refused(second.me(while_down["access"]))
        for server in (second, first):
            expect_revoked(server, while_down["access"])
            expect_accepted(server, after["access"])  # from the database
    finally:
        cluster.redis_server.start()  # the same port, nothing in it

    # The lease comes back: every worker resubscribes and remembers anew.
    for server in cluster.servers:
        cluster.answer_from_memory(server, after["access"])
    expect_lease_subscriptions(cluster.redis_url, SERVERS * WORKERS)
    logout(first, after)

    assert_refused(second.me(after["access"]))
    for server in (second, first):
        expect_revoked(server, after["access"])
        expect_revoked(server, while_down["access"])
    # The logout made while Redis was down has been published since.
    deadline = time.monotonic() + OUTBOX_INTERVAL + 5  # the interval, plus room for a busy machine
    while cluster.unpublished():
        assert time.monotonic() < deadline, "the outbox was never published"
        assert_refused(second.me(while_down["access"]))
        time.sleep(0.1)
