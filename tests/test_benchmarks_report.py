"""The benchmark report's targets judge the ratios they are given.

API tokens against knox (issue 12); tokenkit's default on Redis, the
configuration without the lease and the post-login window (issue 16).

No timing is measured here: the results are made up, so that a target whose
threshold or comparison goes wrong fails a test instead of a benchmark run
quietly reporting "met".
"""

from __future__ import annotations

from benchmarks.authenticate import AuthenticateResult
from benchmarks.contenders import (
    CONTENDERS,
    GROUPS,
    KNOX,
    SIMPLEJWT,
    SIMPLEJWT_STATELESS,
    TOKENKIT_API,
    TOKENKIT_DEFAULT_REDIS,
    TOKENKIT_NO_LEASE,
    TOKENKIT_POST_LOGIN,
)
from benchmarks.environment import contender_list
from benchmarks.report import Target, render, targets
from benchmarks.run import THROUGHPUT_SHAPE
from benchmarks.throughput import ThroughputResult


def _authenticate(
    name: str, per_call: list[float], queries: float = 0.0, round_trips: float | None = None
) -> AuthenticateResult:
    if round_trips is None:
        round_trips = 1.0 if name == TOKENKIT_API else 0.0
    return AuthenticateResult(
        CONTENDERS[name],
        per_call_us=per_call,
        median_call_us=per_call,
        queries_per_call=queries,
        cache_round_trips_per_call=round_trips,
    )


def _throughput(name: str, rps: list[float]) -> ThroughputResult:
    return ThroughputResult(CONTENDERS[name], rps=rps)


def _api_targets(found: list[Target]) -> dict[str, bool | None]:
    return {t.description: t.met for t in found if t.description.startswith(f"`{TOKENKIT_API}`")}


def test_targets_api_token_within_thresholds_met() -> None:
    found = targets(
        [_authenticate(KNOX, [1000.0, 1200.0]), _authenticate(TOKENKIT_API, [200.0, 240.0])],
        [_throughput(KNOX, [400.0, 500.0]), _throughput(TOKENKIT_API, [800.0, 1000.0])],
        None,
    )

    assert _api_targets(found) == {
        f"`{TOKENKIT_API}` authenticate(): ≤ 0.25× knox (mean per call)": True,
        f"`{TOKENKIT_API}` authenticate(): ≤ 0.25× knox (median call)": True,
        f"`{TOKENKIT_API}` steady state: no database query, at most one cache round trip": True,
        f"`{TOKENKIT_API}` GET /api/me/ req/s: ≥ 1.5× knox": True,
    }


def test_targets_api_token_slower_or_querying_missed() -> None:
    found = targets(
        [
            _authenticate(KNOX, [1000.0, 1000.0]),
            _authenticate(TOKENKIT_API, [300.0, 260.0], queries=0.5),
        ],
        [_throughput(KNOX, [500.0, 500.0]), _throughput(TOKENKIT_API, [700.0, 740.0])],
        None,
    )

    assert set(_api_targets(found).values()) == {False}
    assert len(_api_targets(found)) == 4


def test_targets_without_knox_no_api_token_ratio() -> None:
    found = targets([_authenticate(TOKENKIT_API, [200.0])], None, None)

    assert list(_api_targets(found)) == [
        f"`{TOKENKIT_API}` steady state: no database query, at most one cache round trip"
    ]


def _named(found: list[Target], name: str) -> dict[str, bool | None]:
    return {t.description: t.met for t in found if t.description.startswith(f"`{name}`")}


def test_targets_default_steady_state_with_a_round_trip_missed() -> None:
    found = targets(
        [
            _authenticate(SIMPLEJWT, [500.0]),
            _authenticate(TOKENKIT_DEFAULT_REDIS, [40.0], round_trips=1.0),
        ],
        None,
        None,
    )

    steady = f"`{TOKENKIT_DEFAULT_REDIS}` steady state: no database query, no cache round trip"
    assert _named(found, TOKENKIT_DEFAULT_REDIS)[steady] is False


def test_targets_default_below_stateless_ratio_missed_no_lease_only_reported() -> None:
    found = targets(
        None,
        [
            _throughput(SIMPLEJWT, [1000.0]),
            _throughput(SIMPLEJWT_STATELESS, [2000.0]),
            _throughput(TOKENKIT_DEFAULT_REDIS, [1700.0]),
            _throughput(TOKENKIT_NO_LEASE, [1700.0]),
        ],
        None,
    )

    assert _named(found, TOKENKIT_DEFAULT_REDIS) == {
        f"`{TOKENKIT_DEFAULT_REDIS}` GET /api/me/ req/s: ≥ 1.5× simplejwt": True,
        f"`{TOKENKIT_DEFAULT_REDIS}` GET /api/me/ req/s: ≥ 0.9× simplejwt-stateless": False,
    }
    assert _named(found, TOKENKIT_NO_LEASE) == {
        f"`{TOKENKIT_NO_LEASE}` GET /api/me/ req/s: ≥ 1.5× simplejwt": True,
        f"`{TOKENKIT_NO_LEASE}` GET /api/me/ req/s: × simplejwt-stateless (reported)": None,
    }


def test_targets_no_lease_one_round_trip_met() -> None:
    found = targets([_authenticate(TOKENKIT_NO_LEASE, [200.0], round_trips=1.0)], None, None)

    assert _named(found, TOKENKIT_NO_LEASE) == {
        f"`{TOKENKIT_NO_LEASE}` steady state: no database query, at most one cache round trip": True
    }


def test_targets_post_login_window_judged_like_the_default() -> None:
    post_login = _authenticate(TOKENKIT_POST_LOGIN, [60.0, 66.0])
    post_login.first_request_queries, post_login.first_request_round_trips = 2.0, 2.0
    slow = _throughput(TOKENKIT_POST_LOGIN, [1800.0, 1900.0])
    slow.since_login_s = [3.5, 12.0]

    found = targets(
        [_authenticate(TOKENKIT_DEFAULT_REDIS, [40.0, 44.0]), post_login],
        [
            _throughput(SIMPLEJWT, [1000.0, 1000.0]),
            _throughput(SIMPLEJWT_STATELESS, [2000.0, 2000.0]),
            _throughput(TOKENKIT_DEFAULT_REDIS, [1900.0, 1900.0]),
            slow,
        ],
        None,
    )

    assert _named(found, TOKENKIT_POST_LOGIN) == {
        f"`{TOKENKIT_POST_LOGIN}` from each session's second request on: no database query": True,
        f"`{TOKENKIT_POST_LOGIN}` authenticate() × `{TOKENKIT_DEFAULT_REDIS}` (reported)": None,
        f"`{TOKENKIT_POST_LOGIN}` GET /api/me/ req/s: ≥ 1.5× simplejwt": True,
        f"`{TOKENKIT_POST_LOGIN}` GET /api/me/ req/s: ≥ 0.9× simplejwt-stateless": True,
        f"`{TOKENKIT_POST_LOGIN}` GET /api/me/ req/s × `{TOKENKIT_DEFAULT_REDIS}` (reported)": None,
        f"`{TOKENKIT_POST_LOGIN}` every round ends < 10 s after its logins": False,
    }


def test_render_post_login_row_shows_first_request_counts_and_window() -> None:
    post_login = _authenticate(TOKENKIT_POST_LOGIN, [60.0], queries=0.0)
    post_login.first_request_queries, post_login.first_request_round_trips = 2.0, 2.0
    post_login.since_login_s = 0.4
    load = _throughput(TOKENKIT_POST_LOGIN, [1800.0])
    load.since_login_s = [3.2, 3.4]
    meta = {
        "summary": {"date": "today"},
        "versions": {},
        "authenticate": "measurement 1",
        "throughput": "measurement 2",
        "contenders": [CONTENDERS[TOKENKIT_POST_LOGIN]],
    }

    text = render(title="t", meta=meta, authenticate=[post_login], throughput=[load], race=None)

    assert "| 0 (first request: 2) | 0 (first request: 2) |" in text
    assert "each batch ended at most 0.4 s after the first of its logins" in text
    assert "each round ended at most 3.4 s after the first of its logins" in text
    assert "within the 10 s after a login" in text


def test_contender_groups_cover_every_contender_within_postgresql_default_connections() -> None:
    grouped = {name for members in GROUPS.values() for name in members}
    assert grouped == set(CONTENDERS)
    per_server = THROUGHPUT_SHAPE.workers * THROUGHPUT_SHAPE.threads
    for group in GROUPS:
        servers = [c for c in contender_list([group]) if c.throughput]
        # PostgreSQL's default max_connections, less the margin the run keeps.
        assert len(servers) * per_server + 5 <= 100, group
    assert [c.name for c in contender_list(None)] == list(GROUPS["main"])
