"""Gate for the PostgreSQL + Redis half of the suite (SPEC section 8).

Usage::

    python -m tests.services_gate                 # report whether both services answer
    python -m tests.services_gate -- pytest -x    # run the command only if they do

``DATABASE_URL`` and ``REDIS_URL`` name the services and default to the ones a
test machine has on 127.0.0.1; the command runs with both set. When either
does not answer within three seconds, a ``SKIPPED:`` line says which and why
and the exit status is 0, so ``make test`` passes on a laptop without them;
with ``TOKENKIT_REQUIRE_SERVICES=1`` (CI sets it) the status is 1 instead.
Otherwise the status is the command's own, so pytest's 5 ("no tests
collected") still fails the build. Passwords in the URLs are never printed.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Sequence
from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/tokenkit"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/1"
TIMEOUT_SECONDS = 3


def _passwords(url: str) -> list[str]:
    """Every password ``url`` carries, in its user info or its query string."""
    parts = urlsplit(url)
    found = [parts.password] if parts.password else []
    found += [value for key, value in parse_qsl(parts.query) if key == "password" and value]
    # A client may print the password as written or percent-decoded.
    return sorted({*found, *map(unquote, found)}, key=len, reverse=True)


def redact(url: str) -> str:
    """Return ``url`` with every password it carries replaced by ``***``."""
    parts = urlsplit(url)
    netloc, query = parts.netloc, parts.query
    if parts.password is not None:
        userinfo, _, hostinfo = netloc.rpartition("@")
        netloc = f"{userinfo.partition(':')[0]}:***@{hostinfo}"
    if "password=" in query:
        query = re.sub(r"(^|&)password=[^&]*", r"\1password=***", query)
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _reason(exc: BaseException, url: str) -> str:
    """One line describing ``exc``, with the URL's passwords scrubbed from it."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    for password in _passwords(url):
        text = text.replace(password, "***")
    return text


def check_postgres(url: str) -> str | None:
    """Return None when PostgreSQL at ``url`` accepts a connection, else why not.

    Connects to the server's ``postgres`` database, as Django's test runner
    does to create the test database, so the database named in the URL need
    not exist yet.
    """
    try:
        import psycopg
    except ImportError as exc:
        return f"psycopg is not installed ({exc})"
    try:
        with psycopg.connect(url, dbname="postgres", connect_timeout=TIMEOUT_SECONDS):
            return None
    except Exception as exc:
        return _reason(exc, url)


def check_redis(url: str) -> str | None:
    """Return None when Redis at ``url`` answers PING, else why not."""
    try:
        import redis
    except ImportError as exc:
        return f"redis is not installed ({exc})"
    try:
        client = redis.Redis.from_url(
            url, socket_connect_timeout=TIMEOUT_SECONDS, socket_timeout=TIMEOUT_SECONDS
        )
        try:
            client.ping()
        finally:
            client.close()
    except Exception as exc:
        return _reason(exc, url)
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Check both services; run the command after ``--`` when they answer."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "--":
        args = args[1:]

    database_url = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    redis_url = os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL
    problems = []
    postgres_problem = check_postgres(database_url)
    if postgres_problem:
        problems.append(f"postgres unreachable at {redact(database_url)}: {postgres_problem}")
    redis_problem = check_redis(redis_url)
    if redis_problem:
        problems.append(f"redis unreachable at {redact(redis_url)}: {redis_problem}")

    if problems:
        detail = "; ".join(problems)
        if os.environ.get("TOKENKIT_REQUIRE_SERVICES") == "1":
            print(
                f"ERROR: PostgreSQL + Redis half of the suite cannot run ({detail}), "
                "and TOKENKIT_REQUIRE_SERVICES=1 requires it.",
                file=sys.stderr,
                flush=True,
            )
            return 1
        print(f"\n{'=' * 72}", flush=True)
        print(f"SKIPPED: PostgreSQL + Redis half of the suite ({detail})", flush=True)
        print(f"{'=' * 72}\n", flush=True)
        return 0

    print(
        f"PostgreSQL at {redact(database_url)} and Redis at {redact(redis_url)} answer.",
        flush=True,
    )
    if not args:
        return 0
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url}
    return subprocess.run(args, env=env, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
