"""The benchmark report's API-token targets (issue 12) judge the ratios they are given.

No timing is measured here: the results are made up, so that a target whose
threshold or comparison goes wrong fails a test instead of a benchmark run
quietly reporting "met".
"""

from __future__ import annotations

from benchmarks.authenticate import AuthenticateResult
from benchmarks.contenders import CONTENDERS, KNOX, TOKENKIT_API
from benchmarks.report import Target, targets
from benchmarks.throughput import ThroughputResult


def _authenticate(name: str, per_call: list[float], queries: float = 0.0) -> AuthenticateResult:
    return AuthenticateResult(
        CONTENDERS[name],
        per_call_us=per_call,
        median_call_us=per_call,
        queries_per_call=queries,
        cache_round_trips_per_call=1.0 if name == TOKENKIT_API else 0.0,
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
