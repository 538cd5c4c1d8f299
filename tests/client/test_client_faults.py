"""Passing failures back off; a dead refresh token stops; a background failure is harmless.

A real reverse proxy (:class:`tests.client.support.FaultyProxy`) in front of
the example project injects the faults: 503s, 429 with ``Retry-After``, a
dropped connection, a refusal. What the server itself saw is read from its
access log.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from django_tokenkit.client import Backoff, ServerUnavailable, SessionEnded, TokenkitAuth
from tests.client.support import (
    DEMO,
    EARLY_AFTER,
    REFRESH_PATH,
    FaultyProxy,
    SteppedClock,
    hits_since,
    log_mark,
    refreshes,
)
from tests.e2e import Server

pytestmark = pytest.mark.e2e

FAST = Backoff(initial=0.1, maximum=0.5, budget=10)


@pytest.fixture
def proxy(server: Server) -> Iterator[FaultyProxy]:
    started = FaultyProxy(server.base_url)
    yield started
    started.close()


def logged_in(proxy: FaultyProxy, **kwargs: Any) -> tuple[TokenkitAuth, SteppedClock]:
    clock = SteppedClock()
    auth = TokenkitAuth(
        proxy.url("/api/auth/"), *DEMO, clock=clock, backoff=kwargs.pop("backoff", FAST), **kwargs
    )
    auth.login()
    return auth, clock


def me(proxy: FaultyProxy, auth: TokenkitAuth) -> int:
    return requests.get(proxy.url("/api/me/"), auth=auth, timeout=30).status_code


def wait_for(condition: Callable[[], bool], deadline: float = 10.0) -> None:
    """Poll ``condition`` (a background refresh finishing) until true, or fail."""
    end = time.monotonic() + deadline
    while not condition():
        if time.monotonic() > end:
            pytest.fail("condition not reached")
        time.sleep(0.01)


def test_tokenkit_auth_refresh_429_retry_after_waits_then_succeeds(
    server: Server, proxy: FaultyProxy
) -> None:
    auth, clock = logged_in(proxy)
    before = log_mark([server])
    proxy.fail(REFRESH_PATH, 429, times=1, headers={"Retry-After": "1"}, code="throttled")
    clock.now += 60  # the token is spent: the request waits for a refresh

    started = time.monotonic()
    assert me(proxy, auth) == 200

    assert time.monotonic() - started >= 1.0  # Retry-After honoured
    assert proxy.served_faults == [(REFRESH_PATH, 429)]
    assert [hit.status for hit in refreshes(hits_since([server], before))] == [200]
    assert auth.stats.refresh_calls == 2


def test_tokenkit_auth_refresh_network_error_then_503_backs_off_then_succeeds(
    server: Server, proxy: FaultyProxy
) -> None:
    auth, clock = logged_in(proxy)
    proxy.fail(REFRESH_PATH, 0, times=1)  # connection dropped
    proxy.fail(REFRESH_PATH, 503, times=1)
    clock.now += 60

    assert me(proxy, auth) == 200

    assert proxy.served_faults == [(REFRESH_PATH, 0), (REFRESH_PATH, 503)]
    assert auth.stats.refresh_calls == 3
    assert auth.stats.refreshes == 1


def test_tokenkit_auth_refresh_failing_past_budget_raises_server_unavailable_keeps_session(
    server: Server, proxy: FaultyProxy
) -> None:
    ended: list[SessionEnded] = []
    auth, clock = logged_in(
        proxy, backoff=Backoff(initial=0.05, maximum=0.1, budget=0.5), on_session_ended=ended.append
    )
    proxy.fail(REFRESH_PATH, 503, times=1000)
    clock.now += 60

    with pytest.raises(ServerUnavailable, match="HTTP 503"):
        me(proxy, auth)
    calls = auth.stats.refresh_calls
    proxy.clear()

    assert me(proxy, auth) == 200  # the session was kept: the next call refreshes
    assert 3 <= calls <= 12
    assert ended == []


def test_tokenkit_auth_background_refresh_failing_never_ends_session_nor_delays_requests(
    server: Server, proxy: FaultyProxy
) -> None:
    auth, clock = logged_in(proxy)
    before = log_mark([server])
    proxy.fail(REFRESH_PATH, 503, times=1000)
    clock.now += EARLY_AFTER + 0.1  # in the background stage: the token still works

    statuses = [me(proxy, auth) for _ in range(20)]
    wait_for(lambda: not auth._engine._early_running)

    assert statuses == [200] * 20
    # Backed off: one background attempt, not one per request.
    assert auth.stats.refresh_calls == 1
    assert refreshes(hits_since([server], before)) == []  # none reached the server
    proxy.clear()
    clock.now += 0.3  # past the back-off; still before the spent stage
    assert me(proxy, auth) == 200
    wait_for(lambda: auth.stats.refreshes == 1)
    assert [hit.status for hit in refreshes(hits_since([server], before))] == [200]


def test_tokenkit_auth_background_refresh_refused_keeps_token_then_ends_without_retrying(
    server: Server, proxy: FaultyProxy
) -> None:
    ended: list[SessionEnded] = []
    auth, clock = logged_in(proxy, on_session_ended=ended.append)
    proxy.fail(REFRESH_PATH, 401, times=1000, code="token_invalid")
    clock.now += EARLY_AFTER + 0.1

    assert me(proxy, auth) == 200
    wait_for(lambda: auth.stats.refresh_calls == 1 and not auth._engine._early_running)
    assert [me(proxy, auth) for _ in range(5)] == [200] * 5  # the access token still works
    assert ended == []
    clock.now += 60  # spent: now the refusal stands

    with pytest.raises(SessionEnded) as raised:
        me(proxy, auth)

    assert raised.value.code == "token_invalid"
    assert [error.code for error in ended] == ["token_invalid"]
    assert auth.stats.refresh_calls == 1  # the refused token was never sent again
