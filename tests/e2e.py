"""Run the example project in real server processes, for the end-to-end tests.

The example project is never imported here: it has its own settings module
and would clash with ``tests.settings`` in this process. It is driven the way
a person runs it, through ``manage.py`` in subprocesses and through HTTP
against real gunicorn servers.

Two set-ups use this module:

- ``tests/test_example_project.py``: one server with one worker on a
  throwaway SQLite database (runs in both halves of ``make test``);
- ``tests/test_e2e_*.py``: several servers with several workers each, sharing
  a PostgreSQL database and a Redis database, to test what SPEC section 6
  promises "across processes". They need the services half of ``make test``
  (``DATABASE_URL`` and ``REDIS_URL``, see ``tests/services_gate.py``) and are
  skipped without it, by :func:`service_urls`.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests

if TYPE_CHECKING:
    from typing_extensions import LiteralString

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_DIR = REPO_ROOT / "example_project"
MANAGE_PY = EXAMPLE_DIR / "manage.py"
# Not resolved: in a venv, sys.executable is a symlink whose directory is the
# venv's bin/, and that is where the dev extra installed gunicorn.
GUNICORN = Path(sys.executable).parent / "gunicorn"

#: Variables the example project reads; cleared so a developer's shell (or
#: the services half of `make test`, which sets DATABASE_URL and REDIS_URL)
#: cannot change what the servers see. ``TOKENKIT_*`` ones are cleared too.
EXAMPLE_ENV_VARIABLES = (
    "DATABASE_URL",
    "REDIS_URL",
    "DJANGO_DEBUG",
    "DJANGO_ALLOWED_HOSTS",
    "DJANGO_SECRET_KEY",
)

SUBPROCESS_TIMEOUT = 120
SERVER_START_DEADLINE = 30.0
SERVER_STOP_TIMEOUT = 15.0
HTTP_TIMEOUT = 10

#: The Redis database the multi-process tests use (and flush), on the server
#: that ``REDIS_URL`` names: apart from the in-process suite's. Two checkouts
#: running the suite at once set ``TOKENKIT_E2E_REDIS_DB`` apart as well.
E2E_REDIS_DB = int(os.environ.get("TOKENKIT_E2E_REDIS_DB", "9"))
SERVICES_SKIP_REASON = (
    "needs PostgreSQL + Redis: runs in the services half of make test "
    "(DATABASE_URL=postgres://... and REDIS_URL are not both set)"
)

_T = TypeVar("_T")


# --- manage.py ---------------------------------------------------------------


def example_env(database: Path | str, **overrides: str) -> dict[str, str]:
    """Return an environment that runs the example project on ``database``.

    ``database`` is a SQLite file or a database URL. pytest-django exports
    ``DJANGO_SETTINGS_MODULE=tests.settings`` into this process's
    environment, and ``manage.py`` only sets its own as a default, so it is
    set explicitly here.
    """
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in EXAMPLE_ENV_VARIABLES and not key.startswith("TOKENKIT_")
    }
    env["DJANGO_SETTINGS_MODULE"] = "example_project.settings"
    env["DATABASE_URL"] = f"sqlite:///{database}" if isinstance(database, Path) else database
    env["PYTHONUNBUFFERED"] = "1"
    env.update(overrides)
    return env


def manage(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``manage.py`` with ``args`` in the example project; fail with its output."""
    result = subprocess.run(
        [sys.executable, str(MANAGE_PY), *args],
        cwd=EXAMPLE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT,
        check=False,
    )
    if check and result.returncode != 0:
        pytest.fail(
            f"manage.py {' '.join(args)} exited {result.returncode}\n"
            f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        )
    return result


def seed_users(env: dict[str, str]) -> None:
    """Migrate, then create the demo accounts and a second user, ``other``."""
    manage(env, "migrate", "--no-input")
    manage(env, "demo_users")
    manage(
        env,
        "shell",
        "-c",
        "from django.contrib.auth import get_user_model; "
        "get_user_model().objects.create_user('other', password='other-password')",
    )


# --- servers -------------------------------------------------------------------


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bearer(access: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {access}"}


_BOOTED = re.compile(r"Booting worker with pid: (\d+)")
# The access log format below: "<pid> GET /path?query HTTP/1.1 200"; under
# uvicorn workers, :data:`UVICORN_CONFIG` makes it
# "<pid> 127.0.0.1:port - "GET /path?query HTTP/1.1" 200".
ACCESS_LOG_FORMAT = "%(p)s %(r)s %(s)s"
_ACCESS_LINE = re.compile(r'^<(\d+)> (?:\S+ - ")?\S+ (\S+) HTTP/[\d.]+"? (\d{3})$')

#: The kinds of gunicorn worker :func:`running_servers` starts: each one's
#: ``--worker-class`` and extra arguments, and the application it serves.
WORKER_KINDS: dict[str, tuple[str, tuple[str, ...], str]] = {
    "sync": ("sync", (), "example_project.wsgi"),
    "gthread": ("gthread", ("--threads", "4"), "example_project.wsgi"),
    "uvicorn": ("uvicorn.workers.UvicornWorker", (), "example_project.asgi:application"),
}
#: A gunicorn configuration file for uvicorn workers: their access log lines
#: (uvicorn's own wording, through gunicorn's access handler, whose format
#: ``--access-logformat`` does not reach) get the worker's pid in front, as
#: :meth:`Server.served_by` reads it.
UVICORN_CONFIG = """\
import logging


def post_fork(server, worker):
    for handler in logging.getLogger("uvicorn.access").handlers:
        handler.setFormatter(logging.Formatter("<%(process)d> %(message)s"))
"""


@dataclass
class Server:
    """A running example project, reached at ``base_url``."""

    base_url: str
    process: subprocess.Popen[bytes]
    log: Path
    access_log: Path
    workers: int = 1

    def url(self, path: str) -> str:
        return self.base_url + path

    def login(self, username: str, password: str) -> dict[str, Any]:
        response = requests.post(
            self.url("/api/auth/token/"),
            json={"username": username, "password": password},
            timeout=HTTP_TIMEOUT,
        )
        assert response.status_code == 200, response.text
        pair: dict[str, Any] = response.json()
        return pair

    def get(self, path: str, access: str, probe: str = "") -> requests.Response:
        """``GET path`` with bearer ``access``; ``probe`` tags it in the access log."""
        if probe:
            path = f"{path}?probe={probe}"
        return requests.get(self.url(path), headers=bearer(access), timeout=HTTP_TIMEOUT)

    def me(self, access: str, probe: str = "") -> requests.Response:
        """``GET /api/me/`` with bearer ``access``."""
        return self.get("/api/me/", access, probe)

    def worker_pids(self) -> set[int]:
        """The pids of the workers the master booted so far (from its log)."""
        return {int(pid) for pid in _BOOTED.findall(self.log.read_text(errors="replace"))}

    def served_by(self, probes: Sequence[str], deadline: float = 5.0) -> dict[str, int]:
        """Map each probe to the pid of the worker that answered it.

        Gunicorn writes the access log line just after sending the response,
        so this polls briefly for lines not written yet.
        """
        wanted = set(probes)
        found: dict[str, int] = {}
        end = time.monotonic() + deadline
        while True:
            for line in self.access_log.read_text(errors="replace").splitlines():
                match = _ACCESS_LINE.match(line.strip())
                if match is None:
                    continue
                probe = match.group(2).partition("probe=")[2].partition("&")[0]
                if probe in wanted:
                    found[probe] = int(match.group(1))
            if len(found) == len(wanted) or time.monotonic() >= end:
                return found
            time.sleep(0.05)


def _start_gunicorn(
    env: dict[str, str], workdir: Path, workers: int, worker_kind: str, preload: bool
) -> Server:
    if not GUNICORN.exists():
        pytest.fail(f"{GUNICORN} not found: install the dev extra (pip install -e '.[dev]').")
    port = free_port()
    log = workdir / "gunicorn.log"
    access_log = workdir / "access.log"
    worker_class, worker_args, application = WORKER_KINDS[worker_kind]
    options = [*worker_args, *(["--preload"] if preload else [])]
    if worker_kind == "uvicorn":
        config = workdir / "gunicorn.conf.py"
        config.write_text(UVICORN_CONFIG)
        options += ["--config", str(config)]
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            [
                str(GUNICORN),
                "--chdir",
                str(EXAMPLE_DIR),
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(workers),
                "--worker-class",
                worker_class,
                *options,
                "--access-logfile",
                str(access_log),
                "--access-logformat",
                ACCESS_LOG_FORMAT,
                application,
            ],
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            # Its own process group, so teardown can signal master and workers alike.
            start_new_session=True,
        )
    return Server(
        base_url=f"http://127.0.0.1:{port}",
        process=process,
        log=log,
        access_log=access_log,
        workers=workers,
    )


def _wait_until_serving(server: Server, deadline: float) -> None:
    """Poll until every worker booted and the landing page answers, or fail."""
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(
                f"gunicorn exited with {server.process.returncode}:\n{server.log.read_text()}"
            )
        if len(server.worker_pids()) >= server.workers:
            try:
                if requests.get(server.url("/"), timeout=2).status_code == 200:
                    return
            except requests.RequestException:  # not listening yet, or still busy booting
                pass
        time.sleep(0.1)
    pytest.fail(
        f"gunicorn did not answer within {SERVER_START_DEADLINE}s:\n{server.log.read_text()}"
    )


def _stop(server: Server) -> None:
    """SIGTERM the server's process group; SIGKILL it if it lingers."""
    try:
        os.killpg(server.process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    with suppress(subprocess.TimeoutExpired):
        server.process.wait(timeout=SERVER_STOP_TIMEOUT)
    # Also ends workers that outlived their master.
    with suppress(ProcessLookupError):
        os.killpg(server.process.pid, signal.SIGKILL)
    server.process.wait(timeout=5)


@contextmanager
def running_servers(
    env: dict[str, str],
    workdir: Path,
    *,
    count: int = 1,
    workers: int = 1,
    per_server: Sequence[dict[str, str]] = (),
    worker_kind: str = "sync",
    preload: bool = False,
) -> Iterator[list[Server]]:
    """Start ``count`` gunicorn servers of the example project; stop them on exit.

    Each has ``workers`` workers of ``worker_kind`` (a key of
    :data:`WORKER_KINDS`; ``preload`` imports the application in the master
    before it forks them) on a free port of 127.0.0.1 and logs to its own
    directory under ``workdir``. ``per_server[i]``, when given, is added to
    server ``i``'s environment. All are started before any is waited for, so
    they boot in parallel; on leaving the block (or a failed start) every one
    is stopped, workers included.
    """
    with ExitStack() as stack:
        servers: list[Server] = []
        for index in range(count):
            directory = workdir / f"server{index}"
            directory.mkdir(parents=True, exist_ok=True)
            own_env = {**env, **(per_server[index] if index < len(per_server) else {})}
            server = _start_gunicorn(own_env, directory, workers, worker_kind, preload)
            stack.callback(_stop, server)
            servers.append(server)
        deadline = time.monotonic() + SERVER_START_DEADLINE
        for server in servers:
            _wait_until_serving(server, deadline)
        yield servers


# --- PostgreSQL + Redis for the multi-process tests ------------------------------


def service_urls() -> tuple[str, str]:
    """``DATABASE_URL`` and ``REDIS_URL`` of the services half, or skip the test.

    The one place deciding whether the multi-process tests run: the embedded
    half of ``make test`` unsets both variables.
    """
    database_url = os.environ.get("DATABASE_URL", "")
    redis_url = os.environ.get("REDIS_URL", "")
    if not database_url.startswith(("postgres://", "postgresql://")) or not redis_url:
        pytest.skip(SERVICES_SKIP_REASON)
    return database_url, redis_url


def _with_path(url: str, path: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, parts.fragment))


@dataclass
class SharedServices:
    """A fresh PostgreSQL database and a flushed Redis database, migrated and seeded."""

    database_url: str
    redis_url: str
    #: Applied to every server's environment; callers add their own on top.
    base_env: dict[str, str] = field(default_factory=dict)

    def env(self, **overrides: str) -> dict[str, str]:
        """The environment of a server using these services, plus ``overrides``."""
        return {**self.base_env, **overrides}

    def query(self, sql: LiteralString, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run ``sql`` on the servers' database in a connection of its own."""
        import psycopg

        with psycopg.connect(self.database_url, autocommit=True) as connection:
            return connection.execute(sql, params).fetchall()

    def flush_redis(self) -> None:
        """Empty the servers' Redis database (what a Redis restart does)."""
        import redis

        client = redis.Redis.from_url(self.redis_url)
        try:
            client.flushdb()
        finally:
            client.close()


def lease_subscriptions(redis_url: str) -> int:
    """How many connections to the Redis database of ``redis_url`` hold a subscription.

    With the revocation lease on, each server process that has authenticated
    a request holds one, for the lease's announcements; with it off, none.
    """
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        database = str(client.connection_pool.connection_kwargs.get("db", 0))
        return sum(1 for entry in client.client_list(_type="pubsub") if entry["db"] == database)
    finally:
        client.close()


def expect_lease_subscriptions(redis_url: str, expected: int, timeout: float = 5.0) -> None:
    """Wait until :func:`lease_subscriptions` is ``expected``; fail after ``timeout`` s.

    A lease thread starts with its process's first authenticated request and
    subscribes a moment later; one whose link was just restored resubscribes
    within half a second.
    """
    deadline = time.monotonic() + timeout
    while (found := lease_subscriptions(redis_url)) != expected:
        if time.monotonic() >= deadline:
            pytest.fail(f"{found} lease subscriptions on {redis_url}, not {expected}")
        time.sleep(0.05)


@contextmanager
def shared_services() -> Iterator[SharedServices]:
    """Create ``<name>_e2e_<random>``, flush Redis db ``E2E_REDIS_DB``; drop and flush on exit.

    Both are derived from the services half's URLs (same host, port and
    credentials); ``<name>`` is the database ``DATABASE_URL`` names
    (``tokenkit_e2e_<random>`` with the default URL), so that checkouts run
    side by side on their own database names keep apart in this one too.
    The database is migrated and holds the users of
    :func:`seed_users`. The login throttle is raised, since the tests log in
    more often than the demo's default allows from one address.
    """
    import psycopg
    from psycopg import sql

    database_url, redis_url = service_urls()
    base_name = urlsplit(database_url).path.lstrip("/") or "tokenkit"
    name = f"{base_name}_e2e_{secrets.token_hex(6)}"
    services = SharedServices(
        database_url=_with_path(database_url, f"/{name}"),
        redis_url=_with_path(redis_url, f"/{E2E_REDIS_DB}"),
    )
    services.base_env = example_env(
        services.database_url, REDIS_URL=services.redis_url, TOKENKIT_LOGIN_RATE="10000/min"
    )
    with psycopg.connect(database_url, dbname="postgres", autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        services.flush_redis()
        seed_users(services.env())
        yield services
    finally:
        with psycopg.connect(database_url, dbname="postgres", autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
        services.flush_redis()


# --- concurrency -------------------------------------------------------------------


def run_concurrently(calls: Sequence[Callable[[], _T]], timeout: float = 60.0) -> list[_T]:
    """Run each call in its own thread, released together by a barrier.

    Returns the results in the order of ``calls``; re-raises the first
    exception a call raised.
    """
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)
    errors: list[BaseException] = []

    def run(index: int, call: Callable[[], _T]) -> None:
        try:
            barrier.wait(timeout=timeout)
            results[index] = call()
        except BaseException as error:
            errors.append(error)

    threads = [
        threading.Thread(target=run, args=(index, call), daemon=True)
        for index, call in enumerate(calls)
    ]
    for thread in threads:
        thread.start()
    end = time.monotonic() + timeout
    for thread in threads:
        thread.join(timeout=max(end - time.monotonic(), 0))
    if any(thread.is_alive() for thread in threads):
        pytest.fail(f"concurrent calls did not finish within {timeout}s")
    if errors:
        raise errors[0]
    return results


def on_every_worker(
    server: Server,
    access: str,
    path: str = "/api/me/",
    *,
    concurrency: int = 4,
    max_rounds: int = 25,
) -> list[requests.Response]:
    """``GET path`` on ``server`` in concurrent bursts until each worker answered one.

    Which worker accepts a connection is the kernel's choice, so bursts are
    sent until the access log shows every worker among the responders.
    Returns every response, for the caller to judge.
    """
    responses: list[requests.Response] = []
    answered: set[int] = set()
    for _ in range(max_rounds):
        probes = [secrets.token_hex(8) for _ in range(concurrency)]
        responses += run_concurrently(
            [partial(server.get, path, access, probe) for probe in probes]
        )
        answered |= set(server.served_by(probes).values())
        if answered >= server.worker_pids():
            return responses
    pytest.fail(
        f"{max_rounds} bursts reached workers {sorted(answered)} of {sorted(server.worker_pids())}"
    )


def unverified_claims(token: str) -> dict[str, Any]:
    """The claims of a JWT, read without checking its signature or expiry."""
    import jwt

    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims
