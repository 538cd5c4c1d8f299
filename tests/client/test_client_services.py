"""The client with several processes and a real server-side fault (PostgreSQL + Redis).

Two gunicorn servers of the example project, two workers each, share a
PostgreSQL database and a Redis cache; the clients share their session
through a ``RedisTokenStore`` on the same Redis.
"""

from __future__ import annotations

import json
import math
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
import requests

from django_tokenkit.client import Backoff, TokenkitAuth
from tests.client.support import (
    DEMO,
    EARLY_AFTER,
    LIFETIME,
    SteppedClock,
    hits_since,
    log_mark,
    logins,
    refreshes,
    short_lifetimes,
)
from tests.e2e import REPO_ROOT, Server, SharedServices, running_servers, unverified_claims

pytestmark = [pytest.mark.e2e, pytest.mark.services]

PROCESSES = 4
THREADS = 8
#: Each process's clock, as if on four machines that disagree by up to two hours.
CLOCK_OFFSETS = (3600.0, -3600.0, 0.0, 1800.0)


@pytest.fixture(scope="module")
def servers(
    e2e_services: SharedServices, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[Server]]:
    env = e2e_services.env(**short_lifetimes())
    with running_servers(
        env, tmp_path_factory.mktemp("client-services"), count=2, workers=2
    ) as started:
        yield started


def issued_refresh_tokens(services: SharedServices, sid: str) -> int:
    rows = services.query(
        "SELECT COUNT(*) FROM tokenkit_issuedtoken WHERE session_id = %s::uuid", [sid]
    )
    return int(rows[0][0])


def test_tokenkit_auth_four_processes_share_redis_store_one_refresh_per_window(
    servers: list[Server], e2e_services: SharedServices
) -> None:
    key = f"tokenkit:test:client-shared:{secrets.token_hex(6)}"
    seconds = 2.5 * LIFETIME
    before = log_mark(servers)
    config = {
        "auth_url": servers[0].url("/api/auth/"),
        "api_urls": [server.url("/api/me/") for server in servers],
        "username": DEMO[0],
        "password": DEMO[1],
        "redis_url": e2e_services.redis_url,
        "key": key,
        "threads": THREADS,
        "seconds": seconds,
        "start_at": time.time() + 2,  # all four start together, once imported
    }
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.client.worker",
                json.dumps({**config, "clock_offset": offset}),
            ],
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for offset in CLOCK_OFFSETS
    ]
    outputs = [process.communicate(timeout=seconds + 60) for process in processes]

    results = []
    for process, (stdout, stderr) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, stderr
        results.append(json.loads(stdout.strip().splitlines()[-1]))
    for result in results:
        assert result["errors"] == []
        assert set(result["statuses"]) == {"200"}
    logged = hits_since(servers, before)
    seen = refreshes(logged)
    assert {hit.status for hit in seen} == {200}
    # One login for all four processes, and one refresh per window between them.
    assert len(logins(logged)) == 1
    assert sum(result["stats"]["logins"] for result in results) == 1
    assert sum(result["stats"]["refresh_calls"] for result in results) == len(seen)
    assert len(seen) <= math.ceil(seconds / EARLY_AFTER) + 1
    assert len(seen) >= math.floor(seconds / LIFETIME)
    assert sum(result["stats"]["adopted_from_store"] for result in results) >= PROCESSES - 1
    # Every refresh rotated (none was a replay of another process's).
    session_access = json.loads(
        subprocess.run(
            [
                sys.executable,
                "-c",
                "import json, time; from django_tokenkit.client import RedisTokenStore; "
                f"r = RedisTokenStore({e2e_services.redis_url!r}, {key!r}).load(time.time()); "
                "print(json.dumps(r.access))",
            ],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    sid = unverified_claims(session_access)["sid"]
    assert issued_refresh_tokens(e2e_services, sid) == len(seen) + 1


@pytest.fixture
def refresh_fails_twice(e2e_services: SharedServices) -> Iterator[None]:
    """A trigger that makes the next two inserts of an issued token fail (a 503).

    Counted with a sequence, which a failed transaction does not roll back.
    """
    import psycopg

    statements = [
        "CREATE SEQUENCE client_fault_seq",
        "CREATE FUNCTION client_fault() RETURNS trigger AS $$ BEGIN "
        "IF nextval('client_fault_seq') <= 2 THEN RAISE EXCEPTION 'injected fault'; END IF; "
        "RETURN NEW; END $$ LANGUAGE plpgsql",
        "CREATE TRIGGER client_fault BEFORE INSERT ON tokenkit_issuedtoken "
        "FOR EACH ROW EXECUTE FUNCTION client_fault()",
    ]
    with psycopg.connect(e2e_services.database_url, autocommit=True) as connection:
        for statement in statements:
            connection.execute(statement)
        try:
            yield
        finally:
            connection.execute("DROP TRIGGER client_fault ON tokenkit_issuedtoken")
            connection.execute("DROP FUNCTION client_fault()")
            connection.execute("DROP SEQUENCE client_fault_seq")


def test_tokenkit_auth_refresh_503_twice_then_200_succeeds_after_backing_off(
    servers: list[Server], e2e_services: SharedServices, request: pytest.FixtureRequest
) -> None:
    clock = SteppedClock()
    auth = TokenkitAuth(
        servers[0].url("/api/auth/"), *DEMO, clock=clock, backoff=Backoff(initial=0.2)
    )
    auth.login()
    request.getfixturevalue("refresh_fails_twice")  # armed after the login's insert
    before = log_mark(servers)
    clock.now += 60  # spent: the next request needs a refresh

    started = time.monotonic()
    response = requests.get(servers[1].url("/api/me/"), auth=auth, timeout=30)

    assert response.status_code == 200
    assert [hit.status for hit in refreshes(hits_since(servers, before))] == [503, 503, 200]
    assert auth.stats.refresh_calls == 3
    assert time.monotonic() - started >= 0.2 * (1 - 0.2) * 3  # backed off twice
