"""What the standalone PostgreSQL benchmarks share: a database of their own, and
the machine and versions their result files name.

``flush`` and ``admin_changelist`` each fill millions of rows; they do it in a
database they create and always drop, on the server ``DATABASE_URL`` names,
so they never touch anyone's data.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import metadata
from urllib.parse import urlsplit, urlunsplit

DEFAULT_SERVER_URL = "postgres://postgres@127.0.0.1:5432/postgres"


def database_url(name: str) -> str:
    """``DATABASE_URL``'s server (its database name ignored), with database ``name``."""
    parts = urlsplit(os.environ.get("DATABASE_URL") or DEFAULT_SERVER_URL)
    if parts.scheme not in ("postgres", "postgresql"):
        raise SystemExit("this benchmark needs PostgreSQL: set DATABASE_URL=postgres://...")
    return urlunsplit(parts._replace(path=f"/{name}"))


def _drop_and_maybe_create(name: str, *, create: bool) -> None:
    import psycopg

    with psycopg.connect(database_url("postgres"), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if create:
            connection.execute(f'CREATE DATABASE "{name}"')


@contextmanager
def scratch_database(name: str) -> Iterator[None]:
    """Create database ``name`` afresh for the block; drop it afterwards, even on failure."""
    _drop_and_maybe_create(name, create=True)
    try:
        yield
    finally:
        from django.db import connections

        connections.close_all()
        _drop_and_maybe_create(name, create=False)


def versions() -> dict[str, str]:
    """Python, the PostgreSQL server and the packages that shape the figures."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        postgres = cursor.fetchone()[0]
    packages = {name: metadata.version(name) for name in ("Django", "psycopg", "django-tokenkit")}
    return {"Python": platform.python_version(), "PostgreSQL": postgres, **packages}


def machine() -> str:
    """One line: system, CPU model, CPU count and memory."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    system = f"{platform.system()} {platform.release()}"
    return f"{system}, {cpu}, {os.cpu_count()} CPUs, {memory:.0f} GiB RAM"
