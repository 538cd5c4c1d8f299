"""``TokenkitAuth`` against the example project in a real gunicorn (SQLite, both halves).

Access tokens live 4 s, with no leeway and no sliding, so several expiry
windows fit in a test and a token used one moment too late is refused.
Refresh calls are counted from the server's access log.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests

from django_tokenkit.client import MemoryTokenStore, SessionEnded, TokenkitAuth
from tests.client.support import (
    DEMO,
    EARLY_AFTER,
    GRACE,
    LIFETIME,
    LOGIN_PATH,
    SteppedClock,
    hits_since,
    log_mark,
    logins,
    refreshes,
    short_lifetimes,
    sqlite_refresh_rows,
    unsettled_mark,
)
from tests.e2e import (
    HTTP_TIMEOUT,
    Server,
    example_env,
    run_concurrently,
    running_servers,
    seed_users,
    unverified_claims,
)

pytestmark = pytest.mark.e2e

WORKERS = 50
#: Several access-token lifetimes.
RUN_SECONDS = 2.5 * LIFETIME
LIBRARIES = ("requests", "httpx", "httpx-async")


def auth_for(server: Server, **kwargs: Any) -> TokenkitAuth:
    return TokenkitAuth(server.url("/api/auth/"), *DEMO, **kwargs)


def assert_one_refresh_per_window(count: int, seconds: float) -> None:
    """Each token was refreshed once, shortly before it expired: no more, no fewer."""
    assert count <= math.ceil(seconds / EARLY_AFTER) + 1, count
    assert count >= math.floor(seconds / LIFETIME), count


def loop_for(seconds: float, call: Any) -> list[int]:
    """Call ``call()`` (a status) until ``seconds`` have passed; the statuses."""
    statuses = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        statuses.append(call())
    return statuses


# --- one refresh per window, shared by threads and tasks ---------------------------


class ThreadRecordingStore(MemoryTokenStore):
    """A memory store that notes which threads touched it."""

    def __init__(self) -> None:
        super().__init__()
        self.threads: set[int] = set()

    def _read(self) -> Any:
        self.threads.add(threading.get_ident())
        return super()._read()

    def _write(self, data: Any, reference: float) -> None:
        self.threads.add(threading.get_ident())
        super()._write(data, reference)


def test_tokenkit_auth_fifty_threads_and_fifty_tasks_every_request_succeeds_one_refresh_per_window(
    server: Server, sqlite_database: Path
) -> None:
    store = ThreadRecordingStore()
    auth = auth_for(server, store=store)
    auth.login()
    sid = unverified_claims(auth.access_token)["sid"]
    before = log_mark([server])
    loop_thread: set[int] = set()

    def thread_worker() -> list[int]:
        with requests.Session() as session:
            return loop_for(
                RUN_SECONDS,
                lambda: session.get(server.url("/api/me/"), auth=auth, timeout=30).status_code,
            )

    async def tasks() -> list[int]:
        loop_thread.add(threading.get_ident())
        async with httpx.AsyncClient(timeout=30) as client:

            async def task() -> list[int]:
                statuses = []
                end = time.monotonic() + RUN_SECONDS
                while time.monotonic() < end:
                    response = await client.get(server.url("/api/me/"), auth=auth)
                    statuses.append(response.status_code)
                return statuses

            results = await asyncio.gather(*(task() for _ in range(WORKERS)))
        return [status for result in results for status in result]

    started = time.monotonic()
    results = run_concurrently(
        [thread_worker] * WORKERS + [lambda: asyncio.run(tasks())], timeout=RUN_SECONDS + 60
    )
    elapsed = time.monotonic() - started

    from_threads = [status for result in results[:-1] for status in result]
    from_tasks = results[-1]
    assert set(from_threads) == set(from_tasks) == {200}
    assert len(from_threads) > WORKERS
    assert len(from_tasks) > WORKERS
    seen = refreshes(hits_since([server], before))
    assert {hit.status for hit in seen} == {200}
    assert len(seen) == auth.stats.refresh_calls == auth.stats.refreshes
    assert_one_refresh_per_window(len(seen), elapsed)
    # No refresh was a replay: each one rotated, leaving one new token on record.
    assert sqlite_refresh_rows(sqlite_database, sid) == len(seen) + 1
    # Login, refreshes and store I/O ran in threads, never on the event loop's.
    assert store.threads
    assert not store.threads & loop_thread


def test_tokenkit_auth_clock_an_hour_off_no_extra_refreshes_no_failures(server: Server) -> None:
    ahead = auth_for(server, clock=lambda: time.time() + 3600)
    behind = auth_for(server, clock=lambda: time.time() - 3600)
    before = log_mark([server])

    def worker(auth: TokenkitAuth) -> list[int]:
        with requests.Session() as session:
            return loop_for(
                1.5 * LIFETIME,
                lambda: session.get(server.url("/api/me/"), auth=auth, timeout=30).status_code,
            )

    started = time.monotonic()
    results = run_concurrently([partial(worker, ahead), partial(worker, behind)] * 5, timeout=60)
    elapsed = time.monotonic() - started

    assert {status for result in results for status in result} == {200}
    seen = refreshes(hits_since([server], before))
    assert {hit.status for hit in seen} == {200}
    assert len(seen) == ahead.stats.refresh_calls + behind.stats.refresh_calls
    for auth in (ahead, behind):
        assert_one_refresh_per_window(auth.stats.refresh_calls, elapsed)
        assert auth.stats.retries == 0


# --- 401 token_expired: retried once, with a token someone else already got -------


def test_tokenkit_auth_token_expired_on_server_retries_once_after_one_refresh(
    server: Server,
) -> None:
    # Clocks that stand still: the clients believe their tokens good, the server does not.
    clients = {library: auth_for(server, clock=SteppedClock()) for library in LIBRARIES}
    for auth in clients.values():
        auth.login()
    time.sleep(LIFETIME + 0.1)  # the server's clock has to pass the tokens' exp
    url = server.url("/api/me/")

    for library, auth in clients.items():
        before = log_mark([server])
        if library == "requests":
            answers = run_concurrently([partial(requests.get, url, auth=auth, timeout=30)] * 10)
            assert {tuple(r.status_code for r in a.history) for a in answers} == {(401,)}
            statuses = [answer.status_code for answer in answers]
        elif library == "httpx":
            with httpx.Client(timeout=30) as client:
                statuses = [
                    answer.status_code
                    for answer in run_concurrently([partial(client.get, url, auth=auth)] * 10)
                ]
        else:

            async def main(auth: TokenkitAuth = auth) -> list[int]:
                async with httpx.AsyncClient(timeout=30) as client:
                    answers = await asyncio.gather(*(client.get(url, auth=auth) for _ in range(10)))
                return [answer.status_code for answer in answers]

            statuses = asyncio.run(main())

        assert statuses == [200] * 10, library
        seen = refreshes(hits_since([server], before))
        # One refresh; the other nine resent with the token it brought.
        assert [hit.status for hit in seen] == [200], library
        assert auth.stats.refresh_calls == 1
        assert auth.stats.retries == 10


# --- the session ends: SessionEnded, once, and no more traffic ----------------------


def test_tokenkit_auth_session_revoked_mid_run_every_thread_gets_session_ended(
    server: Server,
) -> None:
    ended: list[SessionEnded] = []
    auth = auth_for(server, on_session_ended=ended.append)
    auth.login()
    revoked = threading.Event()
    before = log_mark([server])
    revoked_at: dict[str, list[int]] = {}

    def worker() -> list[str]:
        outcomes: list[str] = []
        with requests.Session() as session:
            end = time.monotonic() + 2.5 * LIFETIME
            while time.monotonic() < end and outcomes.count("ended") < 5:
                try:
                    response = session.get(server.url("/api/me/"), auth=auth, timeout=30)
                except SessionEnded as error:
                    outcomes.append("ended" if error.code == "token_revoked" else error.code)
                else:
                    outcomes.append("after" if revoked.is_set() else str(response.status_code))
        return outcomes

    def revoke_from_elsewhere() -> list[str]:
        time.sleep(1.2 * LIFETIME)  # past at least one refresh
        other = requests.post(
            server.url(LOGIN_PATH),
            json=dict(zip(("username", "password"), DEMO, strict=True)),
            timeout=30,
        ).json()
        response = requests.post(
            server.url("/api/auth/logout/"),
            json={"all": True},
            headers={"Authorization": f"Bearer {other['access']}"},
            timeout=HTTP_TIMEOUT,
        )
        assert response.status_code == 204
        revoked.set()
        revoked_at["mark"] = unsettled_mark([server])
        return []

    results = run_concurrently([worker] * 20 + [revoke_from_elsewhere], timeout=60)

    for outcomes in results[:-1]:
        # Requests sent before the revocation succeeded; at most the one in flight
        # when it happened was answered ("after"); then SessionEnded, every time.
        first_end = outcomes.index("ended")
        assert set(outcomes[:first_end]) <= {"200", "after"}
        assert outcomes[:first_end].count("after") <= 1
        assert outcomes[first_end:] == ["ended"] * 5
    assert [error.code for error in ended] == ["token_revoked"]
    assert refreshes(hits_since([server], before))  # the session had been refreshed
    later = hits_since([server], revoked_at["mark"])
    # No refresh and no login after the revocation; each thread sent at most the
    # one request that found out (the rest raised without touching the network).
    assert not [hit for hit in refreshes(later) if hit.status == 200]
    assert len(refreshes(later)) <= 1
    assert logins(later) == []
    assert len([hit for hit in later if hit.path.startswith("/api/me/")]) <= 2 * 20
    with pytest.raises(SessionEnded):
        requests.get(server.url("/api/me/"), auth=auth, timeout=30)


def test_tokenkit_auth_refresh_token_reused_by_second_client_ends_session_without_loop(
    server: Server,
) -> None:
    pair = server.login(*DEMO)
    # Two clients holding the same session without a shared store; their clock
    # then jumps, so that both find the access token spent at once.
    clock = SteppedClock()
    first_ended: list[SessionEnded] = []
    second_ended: list[SessionEnded] = []
    first = auth_for(server, clock=clock, on_session_ended=first_ended.append)
    second = auth_for(server, clock=clock, on_session_ended=second_ended.append)
    first.set_tokens(pair)
    second.set_tokens(pair)
    clock.now += 60
    before = log_mark([server])
    url = server.url("/api/me/")

    assert requests.get(url, auth=first, timeout=30).status_code == 200  # rotates
    time.sleep(GRACE + 1.1)  # on the server's clock: past the grace period
    with pytest.raises(SessionEnded) as reused:
        requests.get(url, auth=second, timeout=30)
    for _ in range(3):
        with pytest.raises(SessionEnded):
            requests.get(url, auth=second, timeout=30)
    with pytest.raises(SessionEnded) as revoked:
        requests.get(url, auth=first, timeout=30)

    assert reused.value.code == "token_reused"
    assert revoked.value.code == "token_revoked"
    assert [error.code for error in second_ended] == ["token_reused"]
    assert [error.code for error in first_ended] == ["token_revoked"]
    seen = refreshes(hits_since([server], before))
    assert [hit.status for hit in seen] == [200, 401]  # no retry loop
    assert second.stats.refresh_calls == 1


# --- sliding expiration: X-New-Token keeps the session alive without a refresh -------


@pytest.fixture(scope="module")
def sliding_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("client-sliding")
    env = example_env(
        workdir / "db.sqlite3",
        **short_lifetimes(TOKENKIT_SLIDING_THRESHOLD=str(LIFETIME - 1)),
    )
    seed_users(env)
    with running_servers(env, workdir) as (started,):
        yield started


def test_tokenkit_auth_x_new_token_adopted_no_refresh_while_sliding(
    sliding_server: Server,
) -> None:
    auth = auth_for(sliding_server)
    before = log_mark([sliding_server])
    url = sliding_server.url("/api/me/")
    tokens_used: set[str] = set()

    with requests.Session() as session, httpx.Client(timeout=30) as client:
        gets: list[Callable[..., Any]] = [partial(session.get, timeout=30), client.get]

        def call() -> int:
            tokens_used.add(auth.access_token)
            status: int = gets[len(tokens_used) % 2](url, auth=auth).status_code
            time.sleep(0.1)
            return status

        statuses = loop_for(2 * LIFETIME, call)

    assert set(statuses) == {200}
    assert refreshes(hits_since([sliding_server], before)) == []
    assert auth.stats.refresh_calls == 0
    adopted = auth.stats.renewals_adopted
    assert adopted >= 2  # the session outlived its first token twice over
    assert len(tokens_used) - 1 in (adopted, adopted - 1)
