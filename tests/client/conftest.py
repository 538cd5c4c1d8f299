"""Fixtures for the client's tests: the example project with short token lifetimes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.client.support import short_lifetimes
from tests.e2e import Server, example_env, running_servers, seed_users


@pytest.fixture(scope="package")
def sqlite_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("client-db") / "db.sqlite3"


@pytest.fixture(scope="package")
def server(sqlite_database: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One gunicorn worker on SQLite, 4 s access tokens, no sliding, no leeway."""
    env = example_env(sqlite_database, **short_lifetimes())
    seed_users(env)
    with running_servers(env, tmp_path_factory.mktemp("client-server")) as (started,):
        yield started
