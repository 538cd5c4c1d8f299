"""What the measurements stand on: the database, Redis, users, tokens, servers.

Each run creates its own PostgreSQL database (dropped at the end) and
flushes its own Redis database number, so it neither reads nor leaves state
behind. Servers are gunicorn processes on 127.0.0.1, started and stopped by
the run itself.
"""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from benchmarks.contenders import CONTENDERS, GROUPS, Contender

REPO_ROOT = Path(__file__).resolve().parent.parent
SETTINGS_MODULE = "benchmarks.project.settings"
USER_COUNT = 50
PASSWORD = "benchmark-password"


def database_url() -> str:
    from benchmarks.project.settings import DEFAULT_DATABASE_URL

    return os.environ.get("BENCH_DATABASE_URL") or DEFAULT_DATABASE_URL


def redis_url() -> str:
    from benchmarks.project.settings import DEFAULT_REDIS_URL

    return os.environ.get("BENCH_REDIS_URL") or DEFAULT_REDIS_URL


def _maintenance_url(url: str) -> tuple[str, str]:
    """The URL of the server's ``postgres`` database, and the benchmark database's name."""
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if not name or not name.replace("_", "").isalnum():
        raise SystemExit(f"BENCH_DATABASE_URL must name a plain database, not {name!r}")
    return urlunsplit(parts._replace(path="/postgres")), name


def create_database() -> None:
    """Drop and create the benchmark's own database."""
    import psycopg

    url, name = _maintenance_url(database_url())
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def drop_database() -> None:
    import psycopg

    url, name = _maintenance_url(database_url())
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def flush_redis() -> None:
    import redis

    redis.Redis.from_url(redis_url()).flushdb()


def check_services() -> None:
    """Exit with a clear message when PostgreSQL or Redis does not answer."""
    for url, default_port in ((database_url(), 5432), (redis_url(), 6379)):
        parts = urlsplit(url)
        host, port = parts.hostname or "127.0.0.1", parts.port or default_port
        try:
            socket.create_connection((host, port), timeout=3).close()
        except OSError as error:
            raise SystemExit(
                f"The benchmark needs {parts.scheme} on {host}:{port} ({error})."
            ) from None


@contextlib.contextmanager
def own_services() -> Iterator[None]:
    """The run's own database, created and migrated, and its Redis database, empty.

    Django is set up with the benchmark project's settings inside the block.
    Afterwards the database is dropped and the Redis database flushed, also
    on failure.
    """
    check_services()
    create_database()
    flush_redis()
    try:
        setup_django()
        migrate()
        yield
    finally:
        from django.db import connections

        connections.close_all()
        flush_redis()
        drop_database()


def setup_django() -> None:
    """Set Django up in this process with the benchmark project's settings."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", SETTINGS_MODULE)
    import django

    django.setup()


def migrate() -> None:
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


@dataclass
class Credentials:
    """The users of a run and each contender's token for each of them."""

    user_ids: list[int]
    #: the same users' usernames (their password: :data:`PASSWORD`)
    usernames: list[str]
    #: contender issuer ("tokenkit", "tokenkit-api", "simplejwt", "knox") -> one token per user
    tokens: dict[str, list[str]]

    def for_contender(self, contender: Contender) -> list[str]:
        """The ``Authorization`` header values ``contender`` is measured with."""
        if contender.issuer is None:
            # The floor receives the same header as tokenkit and ignores it.
            return [f"Bearer {token}" for token in self.tokens["tokenkit"]]
        return [f"{contender.scheme} {token}" for token in self.tokens[contender.token_source]]


def create_users(count: int = USER_COUNT, prefix: str = "user") -> list[Any]:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password

    user_model = get_user_model()
    password = make_password(PASSWORD)
    return user_model.objects.bulk_create(
        [user_model(username=f"{prefix}{index:03d}", password=password) for index in range(count)]
    )


#: The API tokens' lifetime: an expiring token, so every response carries
#: ``X-API-Token-Expires-At`` as it would for a careful user's job.
API_TOKEN_LIFETIME = timedelta(days=30)


def issue_credentials(users: list[Any]) -> Credentials:
    """Log every user in with every package, as each package's login view would.

    Each user also gets a tokenkit API token, created by the service that
    the ``api-tokens/`` endpoint calls.
    """
    from django.conf import settings
    from django.test import override_settings
    from knox.models import AuthToken
    from rest_framework_simplejwt.tokens import RefreshToken

    from benchmarks import keys
    from benchmarks.project import reference
    from django_tokenkit import services
    from django_tokenkit.services import api_tokens

    tokens: dict[str, list[str]] = {"tokenkit": [], "tokenkit-api": [], "simplejwt": [], "knox": []}
    for user in users:
        tokens["tokenkit"].append(services.login(user).access)
        tokens["tokenkit-api"].append(
            api_tokens.create(user, name="benchmark", expires_in=API_TOKEN_LIFETIME).token
        )
        tokens["simplejwt"].append(str(RefreshToken.for_user(user).access_token))
        tokens["knox"].append(AuthToken.objects.create(user)[1])
    for algorithm in keys.ASYMMETRIC:
        with override_settings(TOKENKIT={**settings.TOKENKIT, **tokenkit_keys(algorithm)}):
            tokens[f"tokenkit-{algorithm}"] = [services.login(user).access for user in users]
        access_class = reference.SIMPLEJWT_ACCESS_TOKENS[algorithm]
        tokens[f"simplejwt-{algorithm}"] = [str(access_class.for_user(user)) for user in users]
    return Credentials(
        user_ids=[user.pk for user in users],
        usernames=[user.get_username() for user in users],
        tokens=tokens,
    )


def tokenkit_keys(algorithm: str) -> dict[str, Any]:
    """The ``TOKENKIT`` entries that sign with ``algorithm`` (its key as a file path)."""
    from benchmarks import keys

    if algorithm == "HS256":
        return {}
    return {"ALGORITHM": algorithm, "SIGNING_KEYS": [str(keys.private_path(algorithm))]}


# --- servers -----------------------------------------------------------------


@dataclass(frozen=True)
class ServerShape:
    """gunicorn's worker model; the same for every contender of a measurement."""

    workers: int
    threads: int

    def describe(self) -> str:
        return f"gunicorn gthread, {self.workers} workers x {self.threads} threads, keep-alive"


@dataclass
class Server:
    contender: Contender
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def worker_cpu_seconds(server: Server) -> float | None:
    """CPU time (user + system) used so far by the server's worker processes.

    Linux only (``/proc``); None elsewhere. Unlike requests per second, this
    barely moves when other processes compete for the machine.
    """
    pid = server.process.pid
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0
        for child in children:
            fields = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    except (OSError, ValueError, IndexError):
        return None
    return total / ticks


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start_server(contender: Contender, shape: ServerShape, log_dir: Path) -> Server:
    """Start gunicorn for ``contender`` on a free 127.0.0.1 port."""
    port = free_port()
    log_path = log_dir / f"{contender.name}-{port}.log"
    env = {
        **os.environ,
        "BENCH_CONTENDER": contender.name,
        "DJANGO_SETTINGS_MODULE": SETTINGS_MODULE,
        "BENCH_DATABASE_URL": database_url(),
        "BENCH_REDIS_URL": redis_url(),
        "PYTHONPATH": str(REPO_ROOT),
    }
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "benchmarks.project.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--worker-class",
        "gthread",
        "--workers",
        str(shape.workers),
        "--threads",
        str(shape.threads),
        "--keep-alive",
        "30",
        "--backlog",
        "256",
        "--log-level",
        "warning",
        "--error-logfile",
        "-",
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Server(contender=contender, port=port, process=process, log_path=log_path)


def wait_until_serving(server: Server, authorization: str, timeout: float = 30.0) -> None:
    """Block until ``GET /api/me/`` answers 200 on every worker (or fail loudly)."""
    import http.client

    deadline = time.monotonic() + timeout
    successes = 0
    last = ""
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            break
        try:
            connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
            connection.request("GET", "/api/me/", headers={"Authorization": authorization})
            response = connection.getresponse()
            body = response.read()
            connection.close()
            if response.status == 200:
                successes += 1
                if successes >= 10:
                    return
                continue
            last = f"HTTP {response.status}: {body[:200]!r}"
        except OSError as error:
            last = str(error)
        time.sleep(0.1)
    stop_server(server)
    raise SystemExit(
        f"The {server.contender.name} server did not serve /api/me/ ({last}).\n{server.log_tail()}"
    )


def stop_server(server: Server) -> None:
    """Stop gunicorn and its workers (its own process group, started by us)."""
    if server.process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.process.pid, signal.SIGTERM)
        try:
            server.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait(timeout=5)


@contextlib.contextmanager
def servers(
    contenders: list[Contender],
    shape: ServerShape,
    log_dir: Path,
    authorization: dict[str, str],
) -> Iterator[dict[str, Server]]:
    """Run one server per contender for the duration of the block."""
    started: dict[str, Server] = {}
    try:
        for contender in contenders:
            started[contender.name] = start_server(contender, shape, log_dir)
        for name, server in started.items():
            wait_until_serving(server, authorization[name])
        yield started
    finally:
        for server in started.values():
            stop_server(server)


# --- what the results were measured on ----------------------------------------


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.0f} GiB"
    except OSError:
        pass
    return "unknown"


def service_versions() -> dict[str, str]:
    import redis
    from django.db import connection

    versions = {}
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        versions["PostgreSQL"] = str(cursor.fetchone()[0]).split()[0]
    info = redis.Redis.from_url(redis_url()).info("server")
    versions["Redis"] = str(info.get("redis_version", "unknown"))
    return versions


def round_trip_latency(samples: int = 300) -> dict[str, float]:
    """Median µs of a bare Redis ``PING`` and a PostgreSQL ``SELECT 1`` from this process.

    The floor under every cache or database check; on a busy machine it
    rises with the time the server process waits for a core.
    """
    import redis
    from django.db import connection

    client = redis.Redis.from_url(redis_url())
    pings = []
    for _ in range(samples):
        start = time.perf_counter()
        client.ping()
        pings.append(time.perf_counter() - start)
    selects = []
    with connection.cursor() as cursor:
        for _ in range(samples):
            start = time.perf_counter()
            cursor.execute("SELECT 1")
            cursor.fetchone()
            selects.append(time.perf_counter() - start)
    client.close()
    return {
        "redis_ping_us": sorted(pings)[samples // 2] * 1e6,
        "postgres_select_us": sorted(selects)[samples // 2] * 1e6,
    }


def check_connection_budget(servers: int, shape: ServerShape) -> None:
    """Refuse to start more servers than PostgreSQL has connections for.

    Each worker thread keeps its own persistent connection; past
    ``max_connections`` a server's next connection fails, and a login or a
    query in the middle of the measurement answers 503.
    """
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW max_connections")
        allowed = int(cursor.fetchone()[0])
    # This process, and a few for psql or autovacuum alongside.
    needed = servers * shape.workers * shape.threads + 5
    if needed > allowed:
        raise SystemExit(
            f"{servers} servers of {shape.workers} x {shape.threads} need up to {needed} "
            f"PostgreSQL connections, but max_connections is {allowed}: measure fewer "
            "contenders at once (--contenders main, --contenders keys, or a list)."
        )


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def machine_summary() -> dict[str, str]:
    """The machine, Python and the services: the first lines of every result file."""
    machine = machine_description()
    services = service_versions()
    return {
        "machine": f"{machine['CPU']}, {machine['cores']} cores, {machine['memory']}, "
        f"{machine['OS']}",
        "Python": machine["Python"],
        "services": f"PostgreSQL {services['PostgreSQL']} and Redis {services['Redis']} "
        "on 127.0.0.1 (same machine)",
    }


@dataclass(frozen=True)
class Conditions:
    """The machine's load and the services' round trips at the start of a run."""

    load: str
    latency: dict[str, float]

    @classmethod
    def now(cls) -> Conditions:
        return cls(load_average(), round_trip_latency())

    def compared_with_now(self) -> dict[str, str]:
        """The result file's lines for them, at the start and now (the end)."""
        after = Conditions.now()
        return {
            "load average (1, 5, 15 min)": f"{self.load} at the start, {after.load} at the end",
            "round trips (median)": (
                "Redis PING {:.0f} µs, PostgreSQL SELECT 1 {:.0f} µs at the start; "
                "{:.0f} µs and {:.0f} µs at the end".format(
                    self.latency["redis_ping_us"],
                    self.latency["postgres_select_us"],
                    after.latency["redis_ping_us"],
                    after.latency["postgres_select_us"],
                )
            ),
        }


def machine_description() -> dict[str, str]:
    return {
        "CPU": _cpu_model(),
        "cores": str(os.cpu_count()),
        "memory": _memory(),
        "OS": f"{platform.system()} {platform.release()}",
        "Python": platform.python_version(),
    }


def package_versions() -> dict[str, str]:
    names = [
        "django-tokenkit",
        "Django",
        "djangorestframework",
        "PyJWT",
        "djangorestframework-simplejwt",
        "django-rest-knox",
        "django-redis",
        "redis",
        "psycopg",
        "gunicorn",
    ]
    return {name: _version(name) for name in names}


def wrk_path() -> str | None:
    return shutil.which("wrk")


def contender_list(names: list[str] | None) -> list[Contender]:
    """The contenders ``names`` lists, a group's (``main``, ``keys``), or ``main``'s."""
    if not names:
        names = ["main"]
    names = [member for name in names for member in GROUPS.get(name, (name,))]
    unknown = [name for name in names if name not in CONTENDERS]
    if unknown:
        raise SystemExit(f"Unknown contenders {unknown}; choose from {list(CONTENDERS)}")
    return [CONTENDERS[name] for name in names]
