"""What a revocation and a user save cost, with the revocation lease on and off.

The lease (on by default with a Redis cache) makes repeat requests free of
cache round trips; the price is paid by the writes: each announcement of a
revocation or of a change to a user row returns only a lease (50 ms) after
Redis took it. This measures that price where it falls, in one process on
PostgreSQL + Redis, with tokenkit's defaults (``tokenkit-redis``) and with
``REVOCATION_LEASE = None`` (``tokenkit-redis-no-lease``):

- logout of one session: the service the ``logout/`` view calls, with the
  access and refresh token a client presents;
- ``revoke_user``: every session of a user (three here);
- an API token's revocation, as ``DELETE api-tokens/<id>/`` does it;
- ``user.save()``, every field;
- ``user.save(update_fields=["last_login"])``, what Django's
  ``update_last_login`` does at a login: it announces without waiting;
- a whole login, ``POST /api/auth/token/`` through Django's test client
  (the benchmark project also saves ``last_login`` then).

Rounds alternate the two configurations in a shuffled order; what each call
needs (a session to end, a token to revoke) is made before its timer starts.
Each call runs outside any transaction, as in a view, so what waits for the
commit (the user cache's refresh, the announcements) is timed with it.

``python -m benchmarks.write_cost`` writes ``results/write_cost.md``;
``--quick`` is a smoke run, ``--output PATH`` writes elsewhere and
``--no-write`` only prints. Uses ``BENCH_DATABASE_URL`` and
``BENCH_REDIS_URL`` as ``benchmarks.run`` does (not at the same time: the
run creates and drops that database).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from itertools import count
from pathlib import Path
from typing import Any

from benchmarks import environment
from benchmarks.contenders import CONTENDERS, TOKENKIT_DEFAULT_REDIS, TOKENKIT_NO_LEASE

RESULTS = Path(__file__).resolve().parent / "results" / "write_cost.md"
CONFIGURATIONS = (TOKENKIT_DEFAULT_REDIS, TOKENKIT_NO_LEASE)
SESSIONS_PER_USER = 3
USERS = 40


@dataclass(frozen=True)
class Operation:
    name: str
    #: Makes what one call needs, untimed; returns the call to time.
    prepare: Callable[[Any], Callable[[], object]]


def _logout(user: Any) -> Callable[[], object]:
    from django_tokenkit.services import issue, revocation

    pair = issue.login(user)
    return lambda: revocation.logout([pair.access_token, pair.refresh_token])


def _revoke_user(user: Any) -> Callable[[], object]:
    from django_tokenkit.models import RevokeReason
    from django_tokenkit.services import issue, revocation

    for _ in range(SESSIONS_PER_USER):
        issue.login(user)
    return lambda: revocation.revoke_user(user, RevokeReason.ADMIN)


def _revoke_api_token(user: Any) -> Callable[[], object]:
    from django_tokenkit.models import RevokeReason
    from django_tokenkit.services import api_tokens

    record = api_tokens.create(user, name="write-cost", expires_in=timedelta(days=1)).record
    return lambda: api_tokens.revoke([record], RevokeReason.USER_REQUEST)


def _full_save(user: Any) -> Callable[[], object]:
    user.first_name = f"n{time.monotonic_ns() % 10_000}"
    return user.save


def _last_login_save(user: Any) -> Callable[[], object]:
    from django.utils import timezone as django_timezone

    user.last_login = django_timezone.now()
    return lambda: user.save(update_fields=["last_login"])


def _login(user: Any) -> Callable[[], object]:
    from benchmarks import logins

    return lambda: logins.in_process([user.get_username()])


OPERATIONS = (
    Operation("logout of one session (`revocation.logout`)", _logout),
    Operation(f"`revoke_user` ({SESSIONS_PER_USER} sessions)", _revoke_user),
    Operation("API token revoke (`api_tokens.revoke`)", _revoke_api_token),
    Operation("`user.save()`", _full_save),
    Operation('`user.save(update_fields=["last_login"])`', _last_login_save),
    Operation("login, `POST /api/auth/token/` (test client)", _login),
)


@dataclass
class Cost:
    """One operation in one configuration: the median call of each round, in ms."""

    round_medians_ms: list[float] = field(default_factory=list)
    queries: int = 0


def _timed(call: Callable[[], object]) -> tuple[float, int]:
    """Milliseconds of one call, and the database queries it made."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        start = time.perf_counter()
        call()
        elapsed = time.perf_counter() - start
    return elapsed * 1000, len(queries.captured_queries)


def measure(
    *, rounds: int, calls: int, seed: int, progress: Callable[[str], None] = print
) -> dict[str, dict[str, Cost]]:
    """configuration -> operation -> its cost, over ``rounds`` interleaved rounds."""
    from benchmarks.authenticate import contender_settings

    users = environment.create_users(USERS, prefix="writer")
    turn: Iterator[Any] = (users[index % len(users)] for index in count())
    costs = {name: {op.name: Cost() for op in OPERATIONS} for name in CONFIGURATIONS}
    order = list(CONFIGURATIONS)
    shuffler = random.Random(seed)
    for round_number in range(1, rounds + 1):
        shuffler.shuffle(order)
        for name in order:
            # contender_settings waits for the lease's first confirmation when it is on.
            with contender_settings(CONTENDERS[name]):
                for operation in OPERATIONS:
                    durations = []
                    for _ in range(calls):
                        ms, queries = _timed(operation.prepare(next(turn)))
                        durations.append(ms)
                    cost = costs[name][operation.name]
                    cost.round_medians_ms.append(statistics.median(durations))
                    cost.queries = queries
        progress(f"  round {round_number}/{rounds} done")
    return costs


def render(costs: dict[str, dict[str, Cost]], meta: dict[str, Any]) -> str:
    from benchmarks import report

    on, off = (costs[name] for name in CONFIGURATIONS)
    lines = report.header(
        "What a revocation and a user save cost, lease on and off",
        meta["summary"],
        environment.package_versions(),
    )
    lines += [
        f"{meta['rounds']} rounds, each running both configurations in a shuffled order; "
        f"in each, {meta['calls']} calls of every operation, each on a different user, "
        "its preparation (a login, an API token) untimed. Milliseconds: the median of the "
        "rounds' median calls, with their min–max. In one process, outside any "
        "transaction (as a view runs), on PostgreSQL and Redis on the same machine.",
        "",
        f"- lease on: `{TOKENKIT_DEFAULT_REDIS}`, tokenkit's defaults (`REVOCATION_LEASE` "
        "unset: 50 ms with a Redis cache);",
        f'- lease off: `{TOKENKIT_NO_LEASE}`, `TOKENKIT["REVOCATION_LEASE"] = None`.',
        "",
    ]
    rows = []
    for operation in OPERATIONS:
        lease, plain = on[operation.name], off[operation.name]
        difference = report.median(
            [a - b for a, b in zip(lease.round_medians_ms, plain.round_medians_ms, strict=True)]
        )
        rows.append(
            [
                operation.name,
                f"{report.median(lease.round_medians_ms):.1f} "
                f"({report.spread(lease.round_medians_ms, 1)})",
                f"{report.median(plain.round_medians_ms):.1f} "
                f"({report.spread(plain.round_medians_ms, 1)})",
                f"{difference:+.1f}",
                f"{lease.queries}",
            ]
        )
    lines += report.table(
        ["operation", "lease on, ms", "lease off, ms", "difference, ms", "DB queries"], rows
    )
    lines += [
        "",
        "A difference near the lease (50 ms) is the announcement's wait: the call returns "
        "once every process must have dropped what it remembered. A login saves "
        "`last_login` and announces it without waiting; a request of that user on another "
        "process may see the previous row for the moment the announcement takes to arrive "
        "(normally well under a millisecond).",
        "",
    ]
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.write_cost", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--quick", action="store_true", help="two short rounds (a smoke run)")
    parser.add_argument("--rounds", type=int, help="rounds (default 9; --quick: 2)")
    parser.add_argument("--calls", type=int, help="calls per operation per round (default 5)")
    parser.add_argument("--seed", type=int, default=None, help="shuffle seed (default: time)")
    parser.add_argument("--output", type=Path, default=RESULTS, help="the markdown file")
    parser.add_argument("--no-write", action="store_true", help="print the results only")
    args = parser.parse_args(argv)
    args.rounds = max(1, min(args.rounds or (2 if args.quick else 9), 50))
    args.calls = max(1, min(args.calls or (3 if args.quick else 5), 50))
    args.seed = int(time.time()) if args.seed is None else args.seed
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", environment.SETTINGS_MODULE)
    started = datetime.now(timezone.utc)
    print(f"Benchmark database {environment.database_url()}, Redis {environment.redis_url()}")
    with environment.own_services():
        before = environment.Conditions.now()
        summary = {
            "date": started.strftime("%Y-%m-%d %H:%M UTC"),
            "run": ("`--quick` (a smoke run: too short to quote)" if args.quick else "full")
            + f", seed {args.seed}",
            **environment.machine_summary(),
        }
        costs = measure(rounds=args.rounds, calls=args.calls, seed=args.seed)
        summary.update(before.compared_with_now())
        text = render(costs, {"summary": summary, "rounds": args.rounds, "calls": args.calls})
    print(text)
    if not args.no_write:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text)
        print(f"Written: {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
