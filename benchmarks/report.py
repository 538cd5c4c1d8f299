"""Statistics, target checks and the markdown report of a run."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from benchmarks.authenticate import AuthenticateResult
from benchmarks.contenders import (
    FLOOR,
    KNOX,
    SIMPLEJWT,
    SIMPLEJWT_STATELESS,
    TOKENKIT_API,
    TOKENKIT_DEFAULT_REDIS,
    TOKENKIT_NO_LEASE,
    TOKENKIT_POST_LOGIN,
)
from benchmarks.refresh_race import RaceResult
from benchmarks.throughput import ThroughputResult


@dataclass(frozen=True)
class Targeted:
    """A tokenkit configuration and what its steady state and req/s must reach."""

    name: str
    #: the steady state's cache round trips per call, at most
    max_round_trips: int
    #: req/s against simplejwt-stateless, at least (None: the ratio is reported only)
    stateless_minimum: float | None


#: The configurations the per-request targets are checked for: tokenkit on
#: Redis with its defaults (the lease on: no round trip once a session is
#: known), and with the optional ``REVOCATION_LEASE = None`` (one round trip).
TOKENKIT_TARGETED = (
    Targeted(TOKENKIT_DEFAULT_REDIS, max_round_trips=0, stateless_minimum=0.9),
    Targeted(TOKENKIT_NO_LEASE, max_round_trips=1, stateless_minimum=None),
)
#: The one the refresh race runs (the lease does not touch refresh).
TOKENKIT = TOKENKIT_DEFAULT_REDIS
#: The post-login window must stay within this of the logins (the user cache's
#: tombstone lasts 10 s; a request after that is steady state anyway).
POST_LOGIN_WINDOW_S = 10.0


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def spread(values: Sequence[float], digits: int = 0) -> str:
    """``min–max`` of a series, for the spread columns."""
    if not values:
        return "—"
    return f"{min(values):.{digits}f}–{max(values):.{digits}f}"


def paired_ratios(numerator: Sequence[float], denominator: Sequence[float]) -> list[float]:
    """Round-by-round ratios: both were measured in the same round."""
    return [a / b for a, b in zip(numerator, denominator, strict=True) if b]


def ratio_cell(values: Sequence[float]) -> str:
    if not values:
        return "—"
    return f"{median(values):.2f}× ({min(values):.2f}–{max(values):.2f})"


@dataclass
class Target:
    description: str
    measured: str
    met: bool | None


def _by_name(results: Sequence[Any]) -> dict[str, Any]:
    return {result.contender.name: result for result in results}


def targets(
    authenticate: Sequence[AuthenticateResult] | None,
    throughput: Sequence[ThroughputResult] | None,
    race: Sequence[RaceResult] | None,
) -> list[Target]:
    """The issue's targets, each with what this run measured."""
    found: list[Target] = []
    for targeted in TOKENKIT_TARGETED:
        found += _contender_targets(targeted, authenticate, throughput)
    found += _post_login_targets(authenticate, throughput)
    found += _api_token_targets(authenticate, throughput)
    found += _algorithm_targets(authenticate)
    if race:
        for result in race:
            if result.contender.name == TOKENKIT and result.k == 50:
                failures = result.requests - result.total("ok")
                live = result.most("live_refresh_tokens")
                found.append(
                    Target(
                        "refresh race, K = 50: 0 failures, one live refresh token",
                        f"{failures} failures in {result.requests} refreshes; "
                        f"{live} live refresh token(s); "
                        f"{result.total('continued')}/{result.requests} clients continue",
                        failures == 0
                        and live == 1
                        and all(r.live_refresh_tokens == 1 for r in result.rounds),
                    )
                )
    return found


def _algorithm_targets(authenticate: Sequence[AuthenticateResult] | None) -> list[Target]:
    """Issue 15: the asymmetric verify cost stays under simplejwt's HS256 per-request cost."""
    found: list[Target] = []
    by_name = _by_name(authenticate or [])
    hs256 = by_name.get(SIMPLEJWT)
    for algorithm in ("RS256", "ES256", "EdDSA"):
        first = by_name.get(f"tokenkit-redis-first-sight-{algorithm.lower()}")
        if first and hs256:
            ratio = median(paired_ratios(first.per_call_us, hs256.per_call_us))
            found.append(
                Target(
                    f"{algorithm}: tokenkit verifying every call < simplejwt HS256 per call",
                    f"{ratio:.2f}× ({median(first.per_call_us):.0f} µs vs "
                    f"{median(hs256.per_call_us):.0f} µs)",
                    ratio < 1,
                )
            )
    return found


def _steady_state(
    name: str, result: AuthenticateResult, max_round_trips: int, when: str = "steady state"
) -> Target:
    trips = "no cache round trip" if max_round_trips == 0 else "at most one cache round trip"
    return Target(
        f"`{name}` {when}: no database query, {trips}",
        f"{result.queries_per_call:g} queries, "
        f"{result.cache_round_trips_per_call:g} round trips per call",
        result.queries_per_call == 0 and result.cache_round_trips_per_call <= max_round_trips,
    )


def _rps_targets(
    name: str, throughput: Sequence[ThroughputResult], stateless_minimum: float | None
) -> list[Target]:
    """req/s against simplejwt (≥ 1.5×) and simplejwt-stateless (a target, or reported)."""
    found: list[Target] = []
    by_name = _by_name(throughput)
    ours = by_name.get(name)
    for other, minimum in ((SIMPLEJWT, 1.5), (SIMPLEJWT_STATELESS, stateless_minimum)):
        theirs = by_name.get(other)
        if ours and theirs:
            found.append(
                _rps_ratio(
                    f"`{name}` GET /api/me/ req/s: "
                    + (f"≥ {minimum}× {other}" if minimum else f"× {other} (reported)"),
                    ours,
                    theirs,
                    minimum,
                )
            )
    return found


def _rps_ratio(
    description: str, ours: ThroughputResult, theirs: ThroughputResult, minimum: float | None
) -> Target:
    """``ours`` req/s against ``theirs``: a target at ``minimum``, or reported (None)."""
    ratio = median(paired_ratios(ours.rps, theirs.rps))
    return Target(
        description,
        f"{ratio:.2f}× ({median(ours.rps):.0f} vs {median(theirs.rps):.0f} req/s)",
        ratio >= minimum if minimum else None,
    )


def _post_login_targets(
    authenticate: Sequence[AuthenticateResult] | None,
    throughput: Sequence[ThroughputResult] | None,
) -> list[Target]:
    """The post-login window: the default's targets, and its ratio to the default."""
    name = TOKENKIT_POST_LOGIN
    found: list[Target] = []
    if authenticate:
        by_name = _by_name(authenticate)
        ours, default = by_name.get(name), by_name.get(TOKENKIT_DEFAULT_REDIS)
        if ours:
            found.append(
                Target(
                    f"`{name}` from each session's second request on: no database query",
                    f"{ours.queries_per_call:g} queries, "
                    f"{ours.cache_round_trips_per_call:g} round trips per call "
                    f"(first request: {ours.first_request_queries or 0:g} queries, "
                    f"{ours.first_request_round_trips or 0:g} round trips)",
                    ours.queries_per_call == 0,
                )
            )
        if ours and default:
            typical = median(paired_ratios(ours.median_call_us, default.median_call_us))
            mean = median(paired_ratios(ours.per_call_us, default.per_call_us))
            found.append(
                Target(
                    f"`{name}` authenticate() × `{TOKENKIT_DEFAULT_REDIS}` (reported)",
                    f"{typical:.2f}× median call ({median(ours.median_call_us):.0f} µs vs "
                    f"{median(default.median_call_us):.0f} µs); {mean:.2f}× mean per call, "
                    "which includes each session's first request",
                    None,
                )
            )
    if throughput:
        found += _rps_targets(name, throughput, 0.9)
        by_name = _by_name(throughput)
        ours, default = by_name.get(name), by_name.get(TOKENKIT_DEFAULT_REDIS)
        if ours and default:
            description = f"`{name}` GET /api/me/ req/s × `{TOKENKIT_DEFAULT_REDIS}` (reported)"
            found.append(_rps_ratio(description, ours, default, None))
        if ours and ours.since_login_s:
            longest = max(ours.since_login_s)
            found.append(
                Target(
                    f"`{name}` every round ends < {POST_LOGIN_WINDOW_S:g} s after its logins",
                    f"at most {longest:.1f} s",
                    longest < POST_LOGIN_WINDOW_S,
                )
            )
    return found


def _contender_targets(
    targeted: Targeted,
    authenticate: Sequence[AuthenticateResult] | None,
    throughput: Sequence[ThroughputResult] | None,
) -> list[Target]:
    """The per-request targets for a tokenkit configuration, when measured."""
    name = targeted.name
    found: list[Target] = []
    if authenticate:
        by_name = _by_name(authenticate)
        ours, theirs = by_name.get(name), by_name.get(SIMPLEJWT)
        if ours and theirs:
            found += _per_call_targets(
                f"`{name}` authenticate() with revocation checks: ≤ 0.4× simplejwt",
                ours,
                theirs,
                0.4,
            )
        if ours:
            found.append(_steady_state(name, ours, targeted.max_round_trips))
    if throughput:
        found += _rps_targets(name, throughput, targeted.stateless_minimum)
    return found


def _per_call_targets(
    description: str, ours: AuthenticateResult, theirs: AuthenticateResult, limit: float
) -> list[Target]:
    """``ours`` at most ``limit`` times ``theirs`` per call, by the mean and the median call."""
    found = []
    for what, attribute in (("mean per call", "per_call_us"), ("median call", "median_call_us")):
        mine, baseline = getattr(ours, attribute), getattr(theirs, attribute)
        ratio = median(paired_ratios(mine, baseline))
        found.append(
            Target(
                f"{description} ({what})",
                f"{ratio:.2f}× ({median(mine):.0f} µs vs {median(baseline):.0f} µs)",
                ratio <= limit,
            )
        )
    return found


def _api_token_targets(
    authenticate: Sequence[AuthenticateResult] | None,
    throughput: Sequence[ThroughputResult] | None,
) -> list[Target]:
    """Issue 12's targets: tokenkit's API tokens against knox, both with their defaults."""
    found: list[Target] = []
    if authenticate:
        by_name = _by_name(authenticate)
        ours, theirs = by_name.get(TOKENKIT_API), by_name.get(KNOX)
        if ours and theirs:
            found += _per_call_targets(
                f"`{TOKENKIT_API}` authenticate(): ≤ 0.25× knox", ours, theirs, 0.25
            )
        if ours:
            found.append(_steady_state(TOKENKIT_API, ours, 1))
    if throughput:
        by_name = _by_name(throughput)
        ours, theirs = by_name.get(TOKENKIT_API), by_name.get(KNOX)
        if ours and theirs:
            found.append(
                _rps_ratio(f"`{TOKENKIT_API}` GET /api/me/ req/s: ≥ 1.5× knox", ours, theirs, 1.5)
            )
    return found


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _count(steady: float, first: float | None) -> str:
    """A per-call count; a post-login row adds its sessions' first request's in parentheses."""
    return f"{steady:g}" if first is None else f"{steady:g} (first request: {first:g})"


def authenticate_table(results: Sequence[AuthenticateResult]) -> list[str]:
    by_name = _by_name(results)
    simplejwt = by_name.get(SIMPLEJWT)
    stateless = by_name.get(SIMPLEJWT_STATELESS)
    knox = by_name.get(KNOX)

    def ratio(result: AuthenticateResult, reference: Any, attribute: str) -> str:
        if result.contender.name == FLOOR or reference is None:
            return "—"
        return ratio_cell(paired_ratios(getattr(result, attribute), getattr(reference, attribute)))

    rows = [
        [
            f"`{result.contender.name}`",
            f"{median(result.per_call_us):.1f}",
            spread(result.per_call_us, 1),
            ratio(result, simplejwt, "per_call_us"),
            ratio(result, stateless, "per_call_us"),
            ratio(result, knox, "per_call_us"),
            f"{median(result.median_call_us):.1f}",
            ratio(result, simplejwt, "median_call_us"),
            _count(result.queries_per_call, result.first_request_queries),
            _count(result.cache_round_trips_per_call, result.first_request_round_trips),
        ]
        for result in results
    ]
    return table(
        [
            "contender",
            "µs per call (mean; median of rounds)",
            "spread (min–max)",
            "× simplejwt",
            "× simplejwt-stateless",
            "× knox",
            "median single call µs",
            "× simplejwt (median call)",
            "DB queries per call",
            "cache round trips per call",
        ],
        rows,
    )


def throughput_table(results: Sequence[ThroughputResult]) -> list[str]:
    by_name = _by_name(results)
    references = [by_name.get(name) for name in (SIMPLEJWT, SIMPLEJWT_STATELESS, KNOX, FLOOR)]
    rows = []
    for result in results:
        ratios = [
            ratio_cell(paired_ratios(result.rps, reference.rps)) if reference else "—"
            for reference in references
        ]
        rows.append(
            [
                f"`{result.contender.name}`",
                f"{median(result.rps):.0f}",
                spread(result.rps),
                *ratios,
                f"{median(result.p50_ms):.2f}",
                f"{median(result.p99_ms):.2f}",
                f"{median(result.cpu_us):.0f}" if result.cpu_us else "—",
                f"{result.errors}/{result.requests}",
            ]
        )
    return table(
        [
            "contender",
            "req/s (median)",
            "spread (min–max)",
            "× simplejwt",
            "× simplejwt-stateless",
            "× knox",
            "× floor",
            "p50 ms",
            "p99 ms",
            "server CPU µs/request",
            "errors",
        ],
        rows,
    )


def race_table(results: Sequence[RaceResult], rounds: int) -> list[str]:
    rows = []
    for result in results:
        others = sorted({status for r in result.rounds for status in r.other_statuses})
        codes = Counter(code for r in result.rounds for code in r.unauthorized_codes)
        code_text = ", ".join(f"`{code}` {count}" for code, count in sorted(codes.items()))
        rows.append(
            [
                f"`{result.contender.name}`",
                str(result.k),
                f"{result.total('ok')}/{result.requests}",
                str(result.total("unauthorized")) + (f" ({code_text})" if code_text else ""),
                str(result.total("other")) + (f" ({', '.join(others)})" if others else ""),
                f"{result.median('distinct_refresh'):g}",
                f"{result.most('live_refresh_tokens')}",
                f"{result.total('continued')}/{result.requests}",
            ]
        )
    rows.append(["`knox`", "—", "N/A: knox has no refresh token", "", "", "", "", ""])
    return table(
        [
            "contender",
            "K",
            f"200s (over {rounds} round{'s' if rounds != 1 else ''})",
            "401s (codes)",
            "other",
            "distinct new refresh tokens (median per round)",
            "live refresh tokens after (worst round)",
            "clients that can continue",
        ],
        rows,
    )


ALGORITHMS = ("RS256", "ES256", "EdDSA")


def algorithms_table(
    authenticate: Sequence[AuthenticateResult], throughput: Sequence[ThroughputResult]
) -> list[str]:
    """Per algorithm: tokenkit (steady, first sight) beside simplejwt with that algorithm."""
    auth, load = _by_name(authenticate), _by_name(throughput)
    rows = []
    for algorithm in ("HS256", *ALGORITHMS):
        suffix = "" if algorithm == "HS256" else f"-{algorithm.lower()}"
        steady = auth.get(f"tokenkit-redis{suffix}")
        first = auth.get(f"tokenkit-redis-first-sight{suffix}")
        theirs = auth.get(f"simplejwt{suffix}")
        hs256 = auth.get(SIMPLEJWT)
        served, served_theirs = load.get(f"tokenkit-redis{suffix}"), load.get(f"simplejwt{suffix}")
        if not (steady or first or served):
            continue

        def us(result: Any) -> str:
            return f"{median(result.per_call_us):.1f}" if result else "—"

        def ratio(ours: Any, other: Any, attribute: str = "per_call_us") -> str:
            if not ours or not other:
                return "—"
            return ratio_cell(paired_ratios(getattr(ours, attribute), getattr(other, attribute)))

        rows.append(
            [
                algorithm,
                us(steady),
                us(first),
                us(theirs),
                ratio(steady, theirs),
                ratio(first, theirs),
                ratio(first, hs256),
                f"{median(served.rps):.0f}" if served else "—",
                f"{median(served_theirs.rps):.0f}" if served_theirs else "—",
                ratio(served, served_theirs, "rps"),
            ]
        )
    if not rows:
        return []
    return table(
        [
            "algorithm",
            "tokenkit steady µs",
            "tokenkit first sight µs",
            "simplejwt µs",
            "steady × simplejwt",
            "first sight × simplejwt",
            "first sight × simplejwt HS256",
            "tokenkit req/s",
            "simplejwt req/s",
            "req/s × simplejwt",
        ],
        rows,
    )


def _post_login_note(what: str, seconds: Sequence[float]) -> list[str]:
    """How far into the post-login window the post-login row's ``what`` reached."""
    if not seconds:
        return []
    longest = max(seconds)
    within = (
        f"within the {POST_LOGIN_WINDOW_S:g} s after a login that this row is about"
        if longest < POST_LOGIN_WINDOW_S
        else f"**not** all within the {POST_LOGIN_WINDOW_S:g} s after a login this row is about"
    )
    return [
        f"`{TOKENKIT_POST_LOGIN}`: each {what} ended at most {longest:.1f} s after the first "
        f"of its logins (the logins included), {within}: every request it counts belongs to "
        "a session seconds old, of a user whose row the login just saved.",
        "",
    ]


def targets_table(found: Sequence[Target]) -> list[str]:
    rows = [
        [
            target.description,
            target.measured,
            "met" if target.met else ("**missed**" if target.met is False else "—"),
        ]
        for target in found
    ]
    return table(["target", "measured", "result"], rows)


def header(title: str, summary: dict[str, str], versions: dict[str, str]) -> list[str]:
    """A result file's title, when and on what it ran, and the package versions."""
    lines = [f"# {title}", ""]
    lines += ["| | |", "|---|---|"]
    lines += [f"| {key} | {value} |" for key, value in summary.items()]
    lines += ["", "Versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()), ""]
    return lines


def render(
    *,
    title: str,
    meta: dict[str, Any],
    authenticate: Sequence[AuthenticateResult] | None,
    throughput: Sequence[ThroughputResult] | None,
    race: Sequence[RaceResult] | None,
    key_parsing: Sequence[Any] | None = None,
) -> str:
    lines = header(title, meta["summary"], meta["versions"])
    lines += ["## Targets", ""]
    lines += targets_table(targets(authenticate, throughput, race))
    lines += [
        "",
        "Ratios are medians of round-by-round ratios (contenders interleaved in a",
        "shuffled order each round), with their min–max in parentheses.",
        "",
    ]
    if authenticate:
        lines += ["## 1. `authenticate()` per call", ""]
        lines += [meta["authenticate"], ""]
        lines += authenticate_table(authenticate)
        lines += [""]
        post_login = _by_name(authenticate).get(TOKENKIT_POST_LOGIN)
        since = post_login.since_login_s if post_login else None
        lines += _post_login_note("batch", [since] if since is not None else [])
    if throughput:
        lines += ["## 2. `GET /api/me/` end to end", ""]
        lines += [meta["throughput"], ""]
        lines += throughput_table(throughput)
        lines += [""]
        post_login = _by_name(throughput).get(TOKENKIT_POST_LOGIN)
        lines += _post_login_note("round", post_login.since_login_s if post_login else [])
    if authenticate or throughput:
        algorithm_lines = algorithms_table(authenticate or [], throughput or [])
        if algorithm_lines:
            lines += ["## Algorithms: tokenkit beside simplejwt with the same algorithm", ""]
            lines += [
                "`steady` is tokenkit as deployed (a process remembers tokens it verified); "
                "`first sight` verifies the signature on every call. Ratios are against "
                "simplejwt configured with the same algorithm and PEM keys, and against "
                "simplejwt's HS256 path.",
                "",
            ]
            lines += algorithm_lines
            lines += [""]
    if key_parsing:
        lines += ["## 4. Key parsing in the steady state", ""]
        lines += [
            "cProfile over prepared `authenticate()` calls with warm caches: PEM parses "
            "(cryptography's `load_pem_*`) per call, and their share of the profiled time.",
            "",
        ]
        lines += table(
            ["contender", "calls profiled", "PEM parses per call", "share of time"],
            [
                [
                    f"`{r.contender.name}`",
                    str(r.calls),
                    f"{r.pem_parses_per_call:g}",
                    f"{r.parse_share:.1%}",
                ]
                for r in key_parsing
            ],
        )
        lines += [""]
    if race:
        lines += ["## 3. Concurrent refresh with one refresh token", ""]
        lines += [meta["race"], ""]
        lines += race_table(race, meta["race_rounds"])
        lines += [""]
    lines += ["## Contenders", ""]
    lines += table(
        ["name", "what it is", "checks per request"],
        [[f"`{c.name}`", c.label, c.checks] for c in meta["contenders"]],
    )
    lines += [""]
    return "\n".join(lines)
