"""Measurement 2: requests per second and latency of ``GET /api/me/`` end to end.

One gunicorn server per contender runs for the whole measurement (same
worker shape for all); the load generator is another process (``wrk`` when
installed, else :mod:`benchmarks.loadgen`) with a fixed number of keep-alive
connections and a fixed duration. Rounds visit the contenders in a shuffled
order; each contender is warmed up once before the first round.

A post-login contender's server gets fresh logins before each of its runs:
every user logs in through that server's login endpoint, the new access
tokens replace its headers file, and the load starts at once, so the whole
run falls within seconds of the logins.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.contenders import Contender
from benchmarks.environment import REPO_ROOT, Server, worker_cpu_seconds

WRK_SCRIPT = Path(__file__).resolve().parent / "wrk_report.lua"


@dataclass(frozen=True)
class LoadShape:
    connections: int
    duration: int
    #: "wrk" or "python"
    generator: str
    wrk: str | None = None

    def describe(self) -> str:
        if self.generator == "wrk":
            return (
                f"wrk, 1 thread, {self.connections} keep-alive connections, "
                f"{self.duration} s per contender per round"
            )
        return (
            f"benchmarks.loadgen (Python, 2 processes), {self.connections} keep-alive "
            f"connections, {self.duration} s per contender per round"
        )


@dataclass
class ThroughputResult:
    contender: Contender
    rps: list[float] = field(default_factory=list)
    p50_ms: list[float] = field(default_factory=list)
    p99_ms: list[float] = field(default_factory=list)
    #: the server's worker CPU time per request, in microseconds
    cpu_us: list[float] = field(default_factory=list)
    errors: int = 0
    requests: int = 0
    #: post-login contenders: seconds from the first login of a round to its end
    since_login_s: list[float] = field(default_factory=list)


def run_load(url: str, headers_file: Path, shape: LoadShape, duration: int) -> dict[str, Any]:
    """One bounded run of the load generator; returns its JSON summary."""
    if shape.generator == "wrk":
        assert shape.wrk is not None
        command = [
            shape.wrk,
            "-t1",
            f"-c{shape.connections}",
            f"-d{duration}s",
            "--timeout",
            "10s",
            "-s",
            str(WRK_SCRIPT),
            url,
            "--",
            str(headers_file),
        ]
    else:
        command = [
            sys.executable,
            "-m",
            "benchmarks.loadgen",
            url,
            str(headers_file),
            "--duration",
            str(duration),
            "--connections",
            str(shape.connections),
            "--processes",
            "2",
        ]
    completed = subprocess.run(
        command,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=duration + 60,
        check=False,
    )
    lines = [line for line in completed.stdout.splitlines() if line.startswith("{")]
    if completed.returncode != 0 or not lines:
        raise SystemExit(
            f"The load generator failed ({completed.returncode}):\n"
            f"{completed.stdout[-2000:]}\n{completed.stderr[-2000:]}"
        )
    summary: dict[str, Any] = json.loads(lines[-1])
    return summary


def measure(
    contenders: list[Contender],
    running: dict[str, Server],
    headers_files: dict[str, Path],
    shape: LoadShape,
    *,
    rounds: int,
    warmup: int,
    seed: int,
    progress: Callable[[str], None] = print,
    log_in: Callable[[Server, Path], None] | None = None,
) -> list[ThroughputResult]:
    """Measure every contender, interleaved over ``rounds`` shuffled rounds.

    ``log_in(server, headers_file)`` logs every user in on ``server`` and
    writes their new tokens to ``headers_file``; it is called before each
    run of a post-login contender.
    """
    results = {contender.name: ThroughputResult(contender) for contender in contenders}

    def prepare(contender: Contender) -> float:
        """Fresh logins for a post-login contender; the moment they began."""
        began = time.monotonic()
        if contender.post_login:
            if log_in is None:
                raise ValueError(f"{contender.name} needs log_in")
            log_in(running[contender.name], headers_files[contender.name])
        return began

    for contender in contenders:
        url = running[contender.name].base_url + "/api/me/"
        prepare(contender)
        run_load(url, headers_files[contender.name], shape, warmup)
    order = list(contenders)
    shuffler = random.Random(seed)
    for round_number in range(1, rounds + 1):
        shuffler.shuffle(order)
        for contender in order:
            server = running[contender.name]
            logged_in = prepare(contender)
            cpu_before = worker_cpu_seconds(server)
            summary = run_load(
                server.base_url + "/api/me/", headers_files[contender.name], shape, shape.duration
            )
            cpu_after = worker_cpu_seconds(server)
            result = results[contender.name]
            if contender.post_login:
                result.since_login_s.append(time.monotonic() - logged_in)
            if cpu_before is not None and cpu_after is not None and summary["requests"]:
                result.cpu_us.append((cpu_after - cpu_before) / summary["requests"] * 1e6)
            seconds = summary["duration_us"] / 1e6
            result.rps.append(summary["requests"] / seconds)
            result.p50_ms.append(summary["p50_us"] / 1000)
            result.p99_ms.append(summary["p99_us"] / 1000)
            result.requests += summary["requests"]
            result.errors += sum(
                int(summary[key])
                for key in (
                    "errors_connect",
                    "errors_read",
                    "errors_write",
                    "errors_status",
                    "errors_timeout",
                )
            )
        progress(
            f"  GET /api/me/ round {round_number}/{rounds}: "
            + ", ".join(f"{c.name} {results[c.name].rps[-1]:.0f}" for c in contenders)
            + " req/s"
        )
    return [results[contender.name] for contender in contenders]
