"""The Python client under load: K processes x T threads through one shared session.

Three workloads against the example project in gunicorn (PostgreSQL + Redis),
each run by K worker processes with T threads that call ``GET /api/me/`` in a
loop for a fixed time:

- ``fixed``: a fixed ``Authorization`` header (a one-hour token), the baseline;
- ``client``: ``TokenkitAuth`` with a shared ``RedisTokenStore`` on the same
  one-hour server: the client's own cost per request (steady state);
- ``client-short``: ``TokenkitAuth`` on a second server whose access tokens
  live ``--lifetime`` seconds, for ``--windows`` lifetimes: refresh calls
  (expected: one per window between all processes), 401s seen by the
  caller (must be 0) and throughput with the refreshes included.

``fixed`` and ``client`` alternate for ``--rounds`` rounds and the medians are
compared, since the machine's load drifts. Needs ``DATABASE_URL`` and
``REDIS_URL`` (as the services half of the tests); writes
``benchmarks/results/client.md``::

    .venv/bin/python -m benchmarks.client --processes 2 --threads 4
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import requests

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS = REPO_ROOT / "benchmarks" / "results" / "client.md"


# --- one worker process -------------------------------------------------------------


def worker(config: dict[str, Any]) -> dict[str, Any]:
    """Run T threads for ``seconds``; count statuses and what the client did."""
    from django_tokenkit.client import RedisTokenStore, SessionEnded, TokenkitAuth

    auth: Any = None
    headers: dict[str, str] = {}
    if config["mode"] == "fixed":
        headers = {"Authorization": f"Bearer {config['access']}"}
    else:
        auth = TokenkitAuth(
            config["auth_url"],
            "demo",
            "demo-password",
            store=RedisTokenStore(config["redis_url"], config["key"]),
        )
    statuses: Counter[int] = Counter()
    errors: Counter[str] = Counter()
    lock = threading.Lock()
    time.sleep(max(config["start_at"] - time.time(), 0))
    end = time.monotonic() + config["seconds"]

    def run() -> None:
        with requests.Session() as session:
            while time.monotonic() < end:
                try:
                    response = session.get(config["url"], headers=headers, auth=auth, timeout=30)
                except (requests.RequestException, SessionEnded) as error:
                    with lock:
                        errors[type(error).__name__] += 1
                    continue
                with lock:
                    statuses[response.status_code] += 1

    threads = [threading.Thread(target=run) for _ in range(config["threads"])]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {
        "elapsed": time.monotonic() - started,
        "statuses": dict(statuses),
        "errors": dict(errors),
        "stats": asdict(auth.stats) if auth is not None else {},
    }


def run_workers(processes: int, config: dict[str, Any]) -> dict[str, Any]:
    """K worker processes started together; their results summed."""
    config = {**config, "start_at": time.time() + 1.5}
    children = [
        subprocess.Popen(
            [sys.executable, "-m", "benchmarks.client", "--worker", json.dumps(config)],
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    results = [json.loads(child.communicate()[0].strip().splitlines()[-1]) for child in children]
    statuses: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    stats: Counter[str] = Counter()
    for result in results:
        statuses.update(result["statuses"])
        errors.update(result["errors"])
        stats.update(result["stats"])
    requests_total = sum(statuses.values())
    elapsed = max(result["elapsed"] for result in results)
    return {
        "requests": requests_total,
        "per_second": requests_total / elapsed,
        "statuses": dict(statuses),
        "errors": dict(errors),
        "stats": dict(stats),
    }


# --- the run ----------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--server-workers", type=int, default=3)
    parser.add_argument("--lifetime", type=int, default=5)
    parser.add_argument("--windows", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=8.0, help="per steady-state round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return

    from tests.e2e import running_servers, shared_services

    with shared_services() as services, tempfile.TemporaryDirectory() as workdir:
        long_env = services.env(TOKENKIT_ACCESS_TOKEN_LIFETIME="3600", TOKENKIT_LEEWAY="0")
        short_env = services.env(
            TOKENKIT_ACCESS_TOKEN_LIFETIME=str(args.lifetime),
            TOKENKIT_SLIDING_THRESHOLD="0",
            TOKENKIT_LEEWAY="0",
        )
        with running_servers(
            long_env,
            Path(workdir),
            count=2,
            workers=args.server_workers,
            per_server=[long_env, short_env],
        ) as (long_server, short_server):
            common = {"threads": args.threads, "redis_url": services.redis_url}
            access = long_server.login("demo", "demo-password")["access"]
            steady: dict[str, list[float]] = {"fixed": [], "client": []}
            for round_index in range(args.rounds):
                for mode in ("fixed", "client"):
                    result = run_workers(
                        args.processes,
                        {
                            **common,
                            "mode": mode,
                            "seconds": args.seconds,
                            "url": long_server.url("/api/me/"),
                            "auth_url": long_server.url("/api/auth/"),
                            "access": access,
                            "key": f"bench:client:steady:{round_index}",
                        },
                    )
                    assert set(result["statuses"]) == {"200"}, result
                    steady[mode].append(result["per_second"])
            short = run_workers(
                args.processes,
                {
                    **common,
                    "mode": "client",
                    "seconds": args.lifetime * args.windows,
                    "url": short_server.url("/api/me/"),
                    "auth_url": short_server.url("/api/auth/"),
                    "key": "bench:client:short",
                },
            )
    report(args, steady, short)


def report(args: argparse.Namespace, steady: dict[str, list[float]], short: dict[str, Any]) -> None:
    fixed = statistics.median(steady["fixed"])
    client = statistics.median(steady["client"])
    overhead = (fixed - client) / fixed * 100
    seen_401 = short["statuses"].get("401", 0)
    early = max(args.lifetime - 1, 1) * 0.75
    most = math.ceil(args.windows * args.lifetime / early)
    lines = [
        "# Python client benchmark (`benchmarks/client.py`)",
        "",
        f"Run {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC on {platform.node()} "
        f"({os.cpu_count()} CPUs, Python {platform.python_version()}), example project in "
        f"gunicorn ({args.server_workers} sync workers) on PostgreSQL + Redis, "
        f"{args.processes} client processes x {args.threads} threads.",
        "",
        "## Steady state: client vs a fixed header (one-hour token)",
        "",
        "| workload | req/s per round | median req/s |",
        "|---|---|---|",
        f"| fixed header | {', '.join(f'{v:.0f}' for v in steady['fixed'])} | {fixed:.0f} |",
        f"| TokenkitAuth + RedisTokenStore | {', '.join(f'{v:.0f}' for v in steady['client'])} "
        f"| {client:.0f} |",
        "",
        f"Overhead of the client: **{overhead:.1f} %** (target: under 5 %). Compare it "
        "with the spread between rounds of one workload: on a shared machine the noise "
        "can be larger than the effect.",
        "",
        f"## Short tokens: {args.lifetime} s access tokens for {args.windows} lifetimes",
        "",
        "| measure | value |",
        "|---|---|",
        f"| requests | {short['requests']} ({short['per_second']:.0f} req/s) |",
        f"| statuses seen by the caller | {short['statuses']} |",
        f"| 401s seen by the caller | **{seen_401}** (must be 0) |",
        f"| errors raised | {short['errors'] or 'none'} |",
        f"| logins (all processes) | {short['stats'].get('logins', 0)} |",
        f"| refresh calls (all processes) | {short['stats'].get('refresh_calls', 0)} "
        f"in {args.lifetime * args.windows} s (each token is refreshed once, "
        f"{early:.2f} s into its life: at most {most}) |",
        f"| sessions adopted from the store | {short['stats'].get('adopted_from_store', 0)} |",
        f"| retries after token_expired | {short['stats'].get('retries', 0)} |",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        RESULTS.write_text(text)


if __name__ == "__main__":
    main()
