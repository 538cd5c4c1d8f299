"""How fast ``tokenkit_flush`` empties a large table, and that its memory stays flat.

Usage (from the repository root)::

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python -m benchmarks.flush [--sessions 1000000] [--batch-size 5000]

``DATABASE_URL`` names the PostgreSQL server; its database name is ignored.
The script creates its own database (``tokenkit_bench_flush``, dropped at the
end, even on failure), migrates it, fills it server-side with
``INSERT ... SELECT ... FROM generate_series`` (nothing passes through
Python), runs ``manage.py tokenkit_flush`` in this process and reports wall
time, rows per second and resident memory, then writes
``benchmarks/results/flush.md``. Not part of ``make test``.

The data, for ``--sessions N``:

- N expired sessions; half of them carry a rotation chain of two expired
  refresh-token records (the first ``replaced_by`` the second), so N (rounded
  down to even) expired ``IssuedToken`` rows in all;
- N / 10 expired blacklist rows;
- N / 10 sessions revoked long ago whose tokens have all expired;
- live rows that must survive: N / 100 sessions with a live refresh token
  each, N / 100 live blacklist rows, and N / 100 revoked sessions whose refresh
  tokens are still unexpired.

Memory: resident set size is sampled at every progress line; the peak
(``getrusage``'s ``ru_maxrss``, reset before the flush where Linux allows)
is compared with the resident size before the flush. A flush that loaded the
table would grow with N; a batched one stays within a few megabytes of its
starting point whatever N is.
"""

from __future__ import annotations

import argparse
import io
import re
import resource
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from benchmarks import scratch

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS = REPO_ROOT / "benchmarks" / "results" / "flush.md"
DB_NAME = "tokenkit_bench_flush"
USERS = 1000


def setup_django() -> None:
    import dj_database_url
    import django
    from django.conf import settings

    settings.configure(
        SECRET_KEY="benchmark-only-secret-key-0123456789-0123456789-0123456789",
        USE_TZ=True,
        INSTALLED_APPS=[
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "rest_framework",
            "django_tokenkit",
        ],
        DATABASES={"default": dj_database_url.parse(scratch.database_url(DB_NAME))},
        CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
    )
    django.setup()


def fill(n: int) -> dict[str, int]:
    """Insert the data set described in the module docstring; return what must go."""
    from django.db import connection

    tenth, hundredth, half = n // 10, max(n // 100, 1), n // 2
    statements = [
        # Users: plain rows, the password is never used.
        f"""INSERT INTO auth_user (password, is_superuser, username, first_name, last_name,
                email, is_staff, is_active, date_joined)
            SELECT '!', false, 'user' || i, '', '', '', false, true, now()
            FROM generate_series(1, {USERS}) AS i""",
        # Expired sessions: capped 40 to 10 days ago.
        f"""INSERT INTO tokenkit_session (id, user_id, auth_time, created_at, expires_at,
                last_used_at, ip_address, user_agent, revoked_at, revoke_reason)
            SELECT md5('expired' || i)::uuid, (SELECT min(id) FROM auth_user) + i % {USERS},
                now() - interval '40 days', now() - interval '40 days',
                now() - interval '10 days' - (i % 1000) * interval '1 minute',
                now() - interval '11 days', '192.0.2.1', 'bench', NULL, ''
            FROM generate_series(1, {n}) AS i""",
        # Their refresh tokens: a chain of two for the first half of the sessions.
        f"""INSERT INTO tokenkit_issuedtoken (jti, token_type, session_id, issued_at,
                expires_at, rotated_at, replaced_by_id, revoked_at, access_jti,
                access_expires_at)
            SELECT 'b' || i, 'refresh', md5('expired' || i)::uuid,
                now() - interval '19 days', now() - interval '12 days', NULL, NULL, NULL,
                'ab' || i, now() - interval '19 days' + interval '15 minutes'
            FROM generate_series(1, {half}) AS i""",
        f"""INSERT INTO tokenkit_issuedtoken (jti, token_type, session_id, issued_at,
                expires_at, rotated_at, replaced_by_id, revoked_at, access_jti,
                access_expires_at)
            SELECT 'a' || i, 'refresh', md5('expired' || i)::uuid,
                now() - interval '20 days', now() - interval '13 days',
                now() - interval '19 days', 'b' || i, NULL,
                'aa' || i, now() - interval '20 days' + interval '15 minutes'
            FROM generate_series(1, {half}) AS i""",
        # Expired blacklist rows.
        f"""INSERT INTO tokenkit_blacklistedtoken (jti, token_type, user_id, session_id,
                expires_at, revoked_at, reason)
            SELECT 'x' || i, 'access', NULL, NULL, now() - interval '1 day',
                now() - interval '1 day' - interval '10 minutes', 'logout'
            FROM generate_series(1, {tenth}) AS i""",
        # Sessions revoked long ago, nothing of them left unexpired.
        f"""INSERT INTO tokenkit_session (id, user_id, auth_time, created_at, expires_at,
                last_used_at, ip_address, user_agent, revoked_at, revoke_reason)
            SELECT md5('revoked' || i)::uuid, (SELECT min(id) FROM auth_user) + i % {USERS},
                now() - interval '9 days', now() - interval '9 days',
                now() + interval '21 days', now() - interval '9 days', NULL, '',
                now() - interval '8 days', 'logout'
            FROM generate_series(1, {tenth}) AS i""",
        # Live: sessions with a live refresh token, live blacklist rows, and revoked
        # sessions whose refresh tokens are still unexpired.
        f"""INSERT INTO tokenkit_session (id, user_id, auth_time, created_at, expires_at,
                last_used_at, ip_address, user_agent, revoked_at, revoke_reason)
            SELECT md5('live' || i)::uuid, (SELECT min(id) FROM auth_user) + i % {USERS},
                now() - interval '1 day', now() - interval '1 day', now() + interval '29 days',
                now(), NULL, '', CASE WHEN i % 2 = 0 THEN now() - interval '1 hour' END,
                CASE WHEN i % 2 = 0 THEN 'logout' ELSE '' END
            FROM generate_series(1, {2 * hundredth}) AS i""",
        f"""INSERT INTO tokenkit_issuedtoken (jti, token_type, session_id, issued_at,
                expires_at, rotated_at, replaced_by_id, revoked_at, access_jti,
                access_expires_at)
            SELECT 'l' || i, 'refresh', md5('live' || i)::uuid, now() - interval '1 day',
                now() + interval '6 days', NULL, NULL, NULL, 'al' || i,
                now() - interval '1 day' + interval '15 minutes'
            FROM generate_series(1, {2 * hundredth}) AS i""",
        f"""INSERT INTO tokenkit_blacklistedtoken (jti, token_type, user_id, session_id,
                expires_at, revoked_at, reason)
            SELECT 'y' || i, 'access', NULL, md5('live' || i)::uuid,
                now() + interval '10 minutes', now(), 'command'
            FROM generate_series(1, {hundredth}) AS i""",
    ]
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)
    with connection.cursor() as cursor:
        # What autovacuum would have done long before a table got this big.
        for table in ("session", "issuedtoken", "blacklistedtoken"):
            cursor.execute(f"VACUUM ANALYZE django_tokenkit_{table}")
    return {
        "issued tokens": 2 * half,
        "blacklisted tokens": tenth,
        "sessions": n,
        "revoked sessions": tenth,
    }


def rss_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark (Linux >= 4.0); False when not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
    except OSError:
        return False
    return True


class ProgressSink(io.StringIO):
    """The command's stdout: keeps the lines, and times and samples RSS at each one."""

    PROGRESS = re.compile(r"^(?P<kind>[a-z ]+): deleted (?P<deleted>\d+) \(total \d+\)$")

    def __init__(self, echo: bool) -> None:
        super().__init__()
        self.echo = echo
        self.samples: list[int] = []
        self.lines = 0
        self.started = time.perf_counter()
        #: (kind, rows, seconds) of each batch.
        self.batches: list[tuple[str, int, float]] = []

    def write(self, text: str) -> int:
        now = time.perf_counter()
        self.samples.append(rss_kib())
        self.lines += text.count("\n")
        match = self.PROGRESS.match(text.strip())
        if match:
            self.batches.append((match["kind"], int(match["deleted"]), now - self.started))
            self.started = now
        if self.echo and self.lines % 20 == 0:
            sys.stderr.write(text)
        return super().write(text)

    def by_kind(self) -> list[tuple[str, int, float, float, float]]:
        """Per kind: rows, seconds, and rows/s over its first and its last tenth of batches."""
        kinds: dict[str, list[tuple[int, float]]] = {}
        for kind, rows, seconds in self.batches:
            kinds.setdefault(kind, []).append((rows, seconds))
        result = []
        for kind, batches in kinds.items():
            tenth = max(len(batches) // 10, 1)

            def rate(part: list[tuple[int, float]]) -> float:
                return sum(r for r, _ in part) / max(sum(t for _, t in part), 1e-9)

            rows = sum(r for r, _ in batches)
            seconds = sum(t for _, t in batches)
            result.append((kind, rows, seconds, rate(batches[:tenth]), rate(batches[-tenth:])))
        return result


def table_counts() -> dict[str, int]:
    from django_tokenkit.models import BlacklistedToken, IssuedToken, Session

    return {
        "sessions": Session.objects.count(),
        "issued tokens": IssuedToken.objects.count(),
        "blacklisted tokens": BlacklistedToken.objects.count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--no-write", action="store_true", help="do not write flush.md")
    args = parser.parse_args()
    n: int = args.sessions

    setup_django()
    from django.core.management import call_command

    with scratch.scratch_database(DB_NAME):
        call_command("migrate", verbosity=0)
        started = time.perf_counter()
        expected = fill(n)
        fill_seconds = time.perf_counter() - started
        before = table_counts()
        print(f"filled in {fill_seconds:.1f} s: {before}", file=sys.stderr)

        dry = io.StringIO()
        started = time.perf_counter()
        call_command("tokenkit_flush", "--dry-run", stdout=dry)
        dry_seconds = time.perf_counter() - started

        rss_before = rss_kib()
        peak_reset = reset_peak_rss()
        started = time.perf_counter()
        sink = ProgressSink(echo=True)
        call_command("tokenkit_flush", "--batch-size", str(args.batch_size), stdout=sink)
        flush_seconds = time.perf_counter() - started
        # KiB on Linux. The kernel updates its mark lazily; a sample may be higher.
        peak = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, *sink.samples)
        after = table_counts()
        summary = sink.getvalue().strip().splitlines()[-1]

        again = io.StringIO()
        call_command("tokenkit_flush", stdout=again)
        deleted = sum(before.values()) - sum(after.values())
        report = {
            "n": n,
            "batch_size": args.batch_size,
            "expected": expected,
            "before": before,
            "after": after,
            "deleted": deleted,
            "fill_seconds": fill_seconds,
            "dry_seconds": dry_seconds,
            "dry_run": dry.getvalue().strip(),
            "flush_seconds": flush_seconds,
            "rows_per_second": deleted / flush_seconds,
            "batches": len(sink.batches),
            "by_kind": sink.by_kind(),
            "summary": summary,
            "second_run": again.getvalue().strip(),
            "rss_before": rss_before,
            "rss_samples": sink.samples,
            "peak": peak,
            "peak_reset": peak_reset,
            "versions": scratch.versions(),
        }
    text = render(report)
    print(text)
    if not args.no_write:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(text)
        print(f"wrote {RESULTS.relative_to(REPO_ROOT)}", file=sys.stderr)


def render(r: dict[str, Any]) -> str:
    mib = 1024
    samples = r["rss_samples"]
    tenth = samples[: max(len(samples) // 10, 1)]
    lines = [
        "# tokenkit_flush benchmark",
        "",
        f"Run {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC by `python -m benchmarks.flush "
        f"--sessions {r['n']} --batch-size {r['batch_size']}`.",
        "",
        f"- Machine: {scratch.machine()}",
        "- Versions: " + ", ".join(f"{k} {v}" for k, v in r["versions"].items()),
        "- PostgreSQL on the same machine, default configuration; its own database, "
        "created and dropped by the run.",
        "",
        "## Data",
        "",
        "| table | rows before | rows after | expected to go |",
        "|---|---:|---:|---:|",
    ]
    expected = r["expected"]
    goes = {
        "sessions": expected["sessions"] + expected["revoked sessions"],
        "issued tokens": expected["issued tokens"],
        "blacklisted tokens": expected["blacklisted tokens"],
    }
    for table, count in r["before"].items():
        lines.append(f"| {table} | {count:,} | {r['after'][table]:,} | {goes[table]:,} |")
    lines += [
        "",
        f"Filled server-side with `INSERT ... SELECT ... FROM generate_series` in "
        f"{r['fill_seconds']:.1f} s.",
        "",
        "## Result",
        "",
        f"- Deleted **{r['deleted']:,} rows in {r['flush_seconds']:.1f} s: "
        f"{r['rows_per_second']:,.0f} rows/s** ({r['batches']} batches of at most "
        f"{r['batch_size']}).",
        f"- Command summary: `{r['summary']}`",
        "",
        "| kind | rows | seconds | rows/s | rows/s, first tenth of batches | rows/s, last tenth |",
        "|---|---:|---:|---:|---:|---:|",
        *(
            f"| {kind} | {rows:,} | {seconds:.1f} | {rows / max(seconds, 1e-9):,.0f} "
            f"| {first:,.0f} | {last:,.0f} |"
            for kind, rows, seconds, first, last in r["by_kind"]
        ),
        "",
        f"- Dry run first ({r['dry_seconds']:.1f} s): `{r['dry_run']}`",
        f"- A second run right after: `{r['second_run']}`",
        "",
        "## Memory",
        "",
        f"- Resident set before the flush: {r['rss_before'] / mib:.1f} MiB "
        "(Python, Django, the app).",
        f"- During the flush (sampled at each progress line): "
        f"max {max(samples) / mib:.1f} MiB; "
        f"max over the first tenth of the batches {max(tenth) / mib:.1f} MiB, "
        f"at the last batch {samples[-1] / mib:.1f} MiB.",
        "- Peak resident set (`getrusage` `ru_maxrss`"
        + (", reset just before the flush" if r["peak_reset"] else ", whole process")
        + f", or the highest sample): {r['peak'] / mib:.1f} MiB, "
        f"{(r['peak'] - r['rss_before']) / mib:+.1f} MiB over the start.",
        "",
        "Memory does not grow with the number of rows: it reaches its level within the "
        "first batches and stays there, because each batch holds at most "
        "`--batch-size` keys and model instances.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
