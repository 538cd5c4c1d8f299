"""Run the authentication benchmarks and write the results table.

``python -m benchmarks.run`` (what ``make bench`` calls) runs, in order:

1. ``authenticate()`` per call, all contenders in this process;
2. ``GET /api/me/`` end to end, one gunicorn server per contender;
3. the concurrent-refresh race, one multi-worker server at a time;

then writes ``benchmarks/results/<date>[-quick].md`` (and the raw numbers as
``.json``). ``--quick`` runs fewer and shorter rounds, to check the harness
rather than to quote. See ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from benchmarks import environment
from benchmarks.contenders import RACE_CONTENDERS
from benchmarks.environment import ServerShape
from benchmarks.throughput import LoadShape

RESULTS_DIR = Path(__file__).resolve().parent / "results"
MEASUREMENTS = ("authenticate", "keyparse", "throughput", "race")
RACE_KS = (2, 10, 50)

#: Two cores: two worker processes keep both busy, four threads each overlap
#: the waits on PostgreSQL and Redis. The load generator and the services
#: share the same two cores; that cost is the same for every contender.
THROUGHPUT_SHAPE = ServerShape(workers=2, threads=4)
#: Several processes, so concurrent refreshes really run in different
#: processes; 32 handlers stay well under PostgreSQL's 100 connections.
RACE_SHAPE = ServerShape(workers=4, threads=8)
CONNECTIONS = 8


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--quick", action="store_true", help="few short rounds (a smoke run)")
    parser.add_argument(
        "--only",
        default=",".join(MEASUREMENTS),
        help=f"comma-separated subset of {','.join(MEASUREMENTS)}",
    )
    parser.add_argument(
        "--contenders",
        default="",
        help="comma-separated contenders or groups (main, the default; keys)",
    )
    parser.add_argument("--rounds", type=int, help="rounds of measurement 1 (authenticate)")
    parser.add_argument("--load-rounds", type=int, help="rounds of measurement 2 (GET /api/me/)")
    parser.add_argument("--duration", type=int, help="seconds per contender per round (2.)")
    parser.add_argument("--race-rounds", type=int, help="rounds per K of the refresh race")
    parser.add_argument("--seed", type=int, default=None, help="shuffle seed (default: time)")
    parser.add_argument(
        "--load-generator",
        choices=("auto", "wrk", "python"),
        default="auto",
        help="wrk when installed (auto), or the Python one",
    )
    parser.add_argument("--output", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    args.only = [name for name in args.only.split(",") if name]
    unknown = set(args.only) - set(MEASUREMENTS)
    if unknown:
        parser.error(f"unknown measurements {sorted(unknown)}")
    if args.quick:
        args.rounds = args.rounds or 3
        args.load_rounds = args.load_rounds or 2
        args.duration = args.duration or 2
        args.race_rounds = args.race_rounds or 1
        args.batch_seconds, args.warmup = 0.1, 1
    else:
        args.rounds = args.rounds or 12
        args.load_rounds = args.load_rounds or 9
        args.duration = args.duration or 3
        args.race_rounds = args.race_rounds or 3
        args.batch_seconds, args.warmup = 0.25, 2
    args.rounds = max(1, min(args.rounds, 50))
    args.load_rounds = max(1, min(args.load_rounds, 20))
    args.duration = max(1, min(args.duration, 30))
    args.race_rounds = max(1, min(args.race_rounds, 10))
    if args.seed is None:
        args.seed = int(time.time())
    return args


def load_shape(args: argparse.Namespace) -> LoadShape:
    wrk = environment.wrk_path()
    if args.load_generator == "wrk" and wrk is None:
        raise SystemExit("--load-generator wrk: wrk is not installed (apt-get install wrk)")
    if args.load_generator == "python" or wrk is None:
        return LoadShape(connections=CONNECTIONS, duration=args.duration, generator="python")
    return LoadShape(connections=CONNECTIONS, duration=args.duration, generator="wrk", wrk=wrk)


def say(message: str) -> None:
    print(message, flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", environment.SETTINGS_MODULE)
    contenders = environment.contender_list(
        [name for name in args.contenders.split(",") if name] or None
    )
    shape = load_shape(args)
    environment.check_services()
    from benchmarks import keys

    keys.ensure_keys()
    started = datetime.now(timezone.utc)
    say(f"Benchmark database {environment.database_url()}, Redis {environment.redis_url()}")
    auth_results = throughput_results = race_results = parse_results = None
    with environment.own_services():
        users = environment.create_users()
        credentials = environment.issue_credentials(users)
        meta = describe(args, shape, contenders, started)
        before = environment.Conditions.now()

        if "authenticate" in args.only:
            from benchmarks import authenticate

            say(f"1. authenticate() per call: {args.rounds} rounds")
            auth_results = authenticate.measure(
                contenders,
                credentials,
                rounds=args.rounds,
                batch_seconds=args.batch_seconds,
                seed=args.seed,
                progress=say,
            )

        if "keyparse" in args.only:
            from benchmarks import key_parsing

            say("4. key parsing in the steady state (cProfile)")
            parse_results = key_parsing.measure(contenders, credentials, progress=say)

        with tempfile.TemporaryDirectory(prefix="tokenkit-bench-") as scratch:
            work = Path(scratch)
            headers = {c.name: credentials.for_contender(c) for c in contenders}
            if "throughput" in args.only:
                throughput_results = run_throughput(
                    args, shape, contenders, headers, work, credentials.usernames
                )
            if "race" in args.only:
                race_results = run_race(args, contenders, headers, work)

        finished = datetime.now(timezone.utc)
        meta["summary"]["duration"] = f"{(finished - started).total_seconds():.0f} s"
        meta["summary"].update(before.compared_with_now())
        write_results(
            args, meta, started, auth_results, throughput_results, race_results, parse_results
        )
    return 0


def run_throughput(
    args: argparse.Namespace,
    shape: LoadShape,
    contenders: list[Any],
    headers: dict[str, list[str]],
    work: Path,
    usernames: list[str],
) -> list[Any]:
    from benchmarks import logins, throughput

    contenders = [contender for contender in contenders if contender.throughput]
    environment.check_connection_budget(len(contenders), THROUGHPUT_SHAPE)

    def log_in(server: environment.Server, headers_file: Path) -> None:
        logins.write_headers(headers_file, logins.over_http(server.port, usernames))

    files = {}
    for name, values in headers.items():
        files[name] = work / f"{name}.headers"
        files[name].write_text("\n".join(values) + "\n")
    say(f"2. GET /api/me/: {args.load_rounds} rounds, {shape.describe()}")
    with environment.servers(
        contenders, THROUGHPUT_SHAPE, work, {name: values[0] for name, values in headers.items()}
    ) as running:
        return throughput.measure(
            contenders,
            running,
            files,
            shape,
            rounds=args.load_rounds,
            warmup=args.warmup,
            seed=args.seed,
            progress=say,
            log_in=log_in,
        )


def run_race(
    args: argparse.Namespace,
    contenders: list[Any],
    headers: dict[str, list[str]],
    work: Path,
) -> list[Any]:
    from benchmarks import refresh_race

    results = []
    racers = [c for c in contenders if c.name in RACE_CONTENDERS]
    say(f"3. refresh race: K = {', '.join(map(str, RACE_KS))}, {args.race_rounds} rounds each")

    def new_user(username: str) -> Any:
        return environment.create_users(1, prefix=username)[0]

    for contender in racers:
        with environment.servers(
            [contender], RACE_SHAPE, work, {contender.name: headers[contender.name][0]}
        ) as running:
            results += refresh_race.measure(
                contender,
                running[contender.name],
                RACE_KS,
                rounds=args.race_rounds,
                new_user=new_user,
                progress=say,
            )
    return results


def describe(
    args: argparse.Namespace, shape: LoadShape, contenders: list[Any], started: datetime
) -> dict[str, Any]:
    summary = {
        "date": started.strftime("%Y-%m-%d %H:%M UTC"),
        "run": ("`--quick` (a smoke run: too short to quote)" if args.quick else "full")
        + f", seed {args.seed}",
        **environment.machine_summary(),
    }
    return {
        "summary": summary,
        "versions": environment.package_versions(),
        "contenders": contenders,
        "race_rounds": args.race_rounds,
        "authenticate": (
            f"{args.rounds} interleaved rounds of about {args.batch_seconds} s per contender; "
            f"{environment.USER_COUNT} users, one prepared request each, cycled. "
            "Counts are per call in the steady state (caches warm). "
            "`tokenkit-redis-post-login`: before each of its batches every user logs in "
            "again through `POST /api/auth/token/` (Django's test client, in this process) "
            "and the batch starts at once; its counts are from each session's second "
            "request on, the first request's in parentheses."
        ),
        "throughput": (
            f"{args.load_rounds} interleaved rounds; server: {THROUGHPUT_SHAPE.describe()}, "
            f"DEBUG off, persistent database connections; load: {shape.describe()} "
            f"(each request carries the next of {environment.USER_COUNT} users' tokens). "
            "Server, load generator, PostgreSQL and Redis share the machine's cores. "
            "`tokenkit-redis-post-login` runs the same server configuration as "
            "`tokenkit-redis`; before each of its rounds every user logs in again through "
            "that server's `POST /api/auth/token/` and the load carries the new tokens at once."
        ),
        "race": (
            f"One refresh token, K simultaneous `POST`s (barrier-released threads, one "
            f"connection each) against {RACE_SHAPE.describe()}. 'live refresh tokens' "
            "comes from each package's own tables; 'can continue' = the client refreshes "
            "again with the refresh token its response gave it."
        ),
    }


def write_results(
    args: argparse.Namespace,
    meta: dict[str, Any],
    started: datetime,
    auth_results: Any,
    throughput_results: Any,
    race_results: Any,
    parse_results: Any = None,
) -> None:
    from benchmarks import report

    args.output.mkdir(parents=True, exist_ok=True)
    stem = started.strftime("%Y-%m-%d-%H%M") + ("-quick" if args.quick else "")
    title = "Authentication benchmark: tokenkit, simplejwt, knox"
    text = report.render(
        title=title,
        meta=meta,
        authenticate=auth_results,
        throughput=throughput_results,
        race=race_results,
        key_parsing=parse_results,
    )
    markdown = args.output / f"{stem}.md"
    markdown.write_text(text)
    raw = {
        "meta": {**meta, "contenders": [c.name for c in meta["contenders"]]},
        "authenticate": [_plain(r) for r in auth_results or []],
        "throughput": [_plain(r) for r in throughput_results or []],
        "race": [_plain(r) for r in race_results or []],
        "key_parsing": [_plain(r) for r in parse_results or []],
    }
    (args.output / f"{stem}.json").write_text(json.dumps(raw, indent=1, default=str) + "\n")
    say("")
    say(text)
    shown = markdown.resolve()
    if shown.is_relative_to(environment.REPO_ROOT):
        shown = shown.relative_to(environment.REPO_ROOT)
    say(f"Written: {shown} (and .json)")
    missed = [
        t for t in report.targets(auth_results, throughput_results, race_results) if t.met is False
    ]
    if missed:
        say("Targets missed: " + "; ".join(t.description for t in missed))


def _plain(result: Any) -> dict[str, Any]:
    data = asdict(result)
    data["contender"] = result.contender.name
    return data


if __name__ == "__main__":
    sys.exit(main())
