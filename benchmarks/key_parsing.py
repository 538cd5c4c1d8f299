"""Measurement 4: does key parsing show in the steady state? (cProfile, in this process)

simplejwt users on RS256 reported per-request slowness: PyJWT parses a PEM
string given as the key on every call. tokenkit parses each key once per
process. For every asymmetric contender this profiles ``authenticate()``
over prepared requests once the caches are warm, and reports how many PEM
parses each call made (cryptography's ``load_pem_*``, counted by cProfile,
builtins included) and the share of the profiled time spent in them.
Profiling slows everything down, so only the counts and shares are
reported, never the times. A control row, PyJWT's ``jwt.decode`` given the
public key as a PEM string, shows what the instrument reports when a key
is parsed per call.
"""

from __future__ import annotations

import cProfile
import pstats
from collections.abc import Callable
from dataclasses import dataclass

from benchmarks.authenticate import _check, _prepared, contender_settings
from benchmarks.contenders import Contender
from benchmarks.environment import Credentials

#: What counts as parsing a key: cryptography's PEM loaders (what PyJWT's
#: prepare_key calls for a PEM string, and what tokenkit calls once).
PARSERS = ("load_pem_private_key", "load_pem_public_key", "load_pem_x509_certificate")


@dataclass
class KeyParsingResult:
    contender: Contender
    calls: int
    pem_parses_per_call: float
    parse_share: float


def _parsing(stats: pstats.Stats) -> tuple[int, float, float]:
    """(PEM parses, seconds in them, total seconds) of a profile."""
    parses, seconds = 0, 0.0
    for (_, _, name), (_, calls, _, cumulative, _) in stats.stats.items():  # type: ignore[attr-defined]
        if any(parser in name for parser in PARSERS):
            parses += calls
            seconds += cumulative
    return parses, seconds, stats.total_tt  # type: ignore[attr-defined]


def measure(
    contenders: list[Contender],
    credentials: Credentials,
    *,
    calls: int = 2000,
    progress: Callable[[str], None] = print,
) -> list[KeyParsingResult]:
    results = [_control(calls, progress)]
    for contender in contenders:
        if contender.algorithm == "HS256":
            continue
        authenticator, requests = _prepared(contender, credentials)
        with contender_settings(contender):
            _check(contender, authenticator, requests, credentials.user_ids)
            _check(contender, authenticator, requests, credentials.user_ids)
            profiler = cProfile.Profile()
            profiler.enable()
            for index in range(calls):
                authenticator.authenticate(requests[index % len(requests)])
            profiler.disable()
        parses, seconds, total = _parsing(pstats.Stats(profiler))
        result = KeyParsingResult(contender, calls, parses / calls, seconds / total if total else 0)
        results.append(result)
        progress(
            f"  key parsing {contender.name}: {result.pem_parses_per_call:g} PEM parses per "
            f"call, {result.parse_share:.0%} of the profiled time"
        )
    return results


def _control(calls: int, progress: Callable[[str], None]) -> KeyParsingResult:
    """``jwt.decode(token, <PEM string>)``: one parse per call, by construction."""
    from datetime import datetime, timedelta, timezone

    import jwt  # noqa: TID251 (the control calls PyJWT directly, as a naive integration would)

    from benchmarks import keys

    private = keys.private_path("ES256").read_text()
    public = keys.public_path("ES256").read_text()
    expires = datetime.now(timezone.utc) + timedelta(hours=1)
    token = jwt.encode({"sub": "1", "exp": expires}, private, algorithm="ES256")
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(calls):
        jwt.decode(token, public, algorithms=["ES256"])
    profiler.disable()
    parses, seconds, total = _parsing(pstats.Stats(profiler))
    control = Contender(
        name="control: jwt.decode(token, PEM string)",
        label="PyJWT given the key as PEM text on every call",
        authentication=None,
        algorithm="ES256",
    )
    result = KeyParsingResult(control, calls, parses / calls, seconds / total if total else 0)
    progress(f"  key parsing control: {result.pem_parses_per_call:g} PEM parses per call")
    return result
