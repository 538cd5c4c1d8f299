"""A schema-driven fuzz run: schemathesis against the example project under gunicorn.

schemathesis reads ``/api/schema/`` and sends every operation generated
requests (valid and invalid bodies, parameters and headers), authenticated
with a login's access token. The run passes when no response is a server
error and every response with a documented status matches its documented
body. It runs the CLI in a subprocess, bounded per operation, with a fixed
seed so a failure can be replayed with the command it prints.

``logout/`` gets a run of its own, after the others: with the bearer token
and ``{"all": true}`` it ends every session, which would leave the rest of
the run nothing but 401s.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e import Server, example_env, running_servers, seed_users

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
#: Examples per operation and phase; with the seed, the run takes about half a minute.
MAX_EXAMPLES = 10
SEED = 20261129
CHECKS = "not_a_server_error,response_schema_conformance"
RUN_TIMEOUT = 240
LOGOUT = "/api/auth/logout/"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("fuzz_server")
    env = example_env(workdir / "db.sqlite3", DJANGO_DEBUG="0", TOKENKIT_LOGIN_RATE="100000/min")
    seed_users(env)
    with running_servers(env, workdir, workers=2) as (started,):
        yield started


def fuzz(server: Server, workdir: Path, name: str, *selection: str) -> dict[str, Any]:
    """Run schemathesis on the operations ``selection`` picks; return its JSON report."""
    # The superuser: it may introspect, so introspect/ is exercised past its 403.
    access = server.login("admin", "admin-password")["access"]
    report = workdir / f"{name}.json"
    command = [
        str(SCHEMATHESIS),
        "run",
        server.url("/api/schema/"),
        "--checks",
        CHECKS,
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        str(SEED),
        "--workers",
        "1",
        # Stateful runs follow links until a time budget is spent: unbounded here.
        "--phases",
        "examples,coverage,fuzzing",
        "--header",
        f"Authorization: Bearer {access}",
        "--report",
        "json",
        "--report-json-path",
        str(report),
        *selection,
    ]
    result = subprocess.run(
        command,
        cwd=workdir,  # its .hypothesis directory goes there, not into the checkout
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    assert report.exists(), result.stdout + result.stderr
    data: dict[str, Any] = json.loads(report.read_text())
    data["_output"] = result.stdout + result.stderr
    return data


def server_errors(server: Server) -> list[str]:
    """Access-log lines (``<pid> METHOD path HTTP/1.1 status``) with a 5xx status."""
    lines = server.access_log.read_text(errors="replace").splitlines()
    return [line for line in lines if line.strip().rsplit(" ", 1)[-1].startswith("5")]


@pytest.mark.e2e
def test_fuzz_example_schema_finds_no_server_error_and_no_schema_violation(
    server: Server, tmp_path: Path
) -> None:
    others = fuzz(server, tmp_path, "others", "--exclude-path", LOGOUT)
    logout = fuzz(server, tmp_path, "logout", "--include-path", LOGOUT)

    for report in (others, logout):
        assert report["exit_code"] == 0, report["_output"]
        assert report["failures"] == [], report["_output"]
        assert report["errors"] == [], report["_output"]
        assert report["test_cases"]["with_failures"] == 0
        assert report["operations"]["errored"] == 0
    tested = others["operations"]["tested"] + logout["operations"]["tested"]
    assert tested == others["operations"]["total"]  # every operation of the schema
    assert others["test_cases"]["generated"] + logout["test_cases"]["generated"] > 100
    assert server_errors(server) == []
    print(  # the counts docs/openapi.rst records; shown with pytest -s
        f"\nfuzz: {tested} operations, "
        f"{others['test_cases']['generated'] + logout['test_cases']['generated']} test cases, "
        f"0 server errors, 0 schema violations"
    )
