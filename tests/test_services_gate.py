"""The gate in front of the PostgreSQL + Redis half of ``make test``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import services_gate as services

REPO_ROOT = Path(__file__).resolve().parent.parent
# Port 1 is closed on any test machine: connections are refused at once.
CLOSED_DATABASE_URL = "postgres://postgres@127.0.0.1:1/x"
CLOSED_REDIS_URL = "redis://127.0.0.1:1/0"
# What the gate must not run when the services are missing.
SENTINEL_COMMAND = [sys.executable, "-c", "raise SystemExit(7)"]


def run_gate(
    *command: str,
    database_url: str = CLOSED_DATABASE_URL,
    redis_url: str = CLOSED_REDIS_URL,
    require: bool = False,
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url}
    env.pop("TOKENKIT_REQUIRE_SERVICES", None)
    if require:
        env["TOKENKIT_REQUIRE_SERVICES"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "tests.services_gate", "--", *command],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_gate_unreachable_prints_skipped_and_exits_zero_without_running() -> None:
    result = run_gate(*SENTINEL_COMMAND)

    assert result.returncode == 0, result.stderr
    assert (
        "SKIPPED: PostgreSQL + Redis half of the suite "
        f"(postgres unreachable at {CLOSED_DATABASE_URL}: "
    ) in result.stdout
    assert f"redis unreachable at {CLOSED_REDIS_URL}: " in result.stdout


def test_gate_unreachable_and_required_exits_nonzero() -> None:
    result = run_gate(*SENTINEL_COMMAND, require=True)

    assert result.returncode == 1
    assert "ERROR: PostgreSQL + Redis half of the suite cannot run" in result.stderr
    assert "TOKENKIT_REQUIRE_SERVICES=1" in result.stderr
    assert "SKIPPED" not in result.stdout


@pytest.mark.parametrize("require", [False, True])
def test_gate_url_passwords_never_printed(require: bool) -> None:
    result = run_gate(
        *SENTINEL_COMMAND,
        database_url="postgres://postgres:pg-s3cret@127.0.0.1:1/x?password=q-s3cret",
        redis_url="redis://:redis-s3cret@127.0.0.1:1/0",
        require=require,
    )

    output = result.stdout + result.stderr
    assert "unreachable at postgres://postgres:***@127.0.0.1:1/x?password=***" in output
    assert "s3cret" not in output


@pytest.mark.parametrize("status", [0, 1, 5])
def test_gate_reachable_runs_command_and_returns_its_status(
    monkeypatch: pytest.MonkeyPatch, status: int
) -> None:
    monkeypatch.setattr(services, "check_postgres", lambda url: None)
    monkeypatch.setattr(services, "check_redis", lambda url: None)

    # 5 is pytest's "no tests collected": it must reach make as a failure.
    assert services.main(["--", sys.executable, "-c", f"raise SystemExit({status})"]) == status


def test_gate_reachable_passes_default_urls_to_command(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(services, "check_postgres", lambda url: None)
    monkeypatch.setattr(services, "check_redis", lambda url: None)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)

    script = "import os; print(os.environ['DATABASE_URL'], os.environ['REDIS_URL'])"
    assert services.main(["--", sys.executable, "-c", script]) == 0

    out = capfd.readouterr().out
    assert f"{services.DEFAULT_DATABASE_URL} {services.DEFAULT_REDIS_URL}" in out


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("redis://127.0.0.1:6379/1", "redis://127.0.0.1:6379/1"),
        ("postgres://u:p@h:5432/db", "postgres://u:***@h:5432/db"),
        ("redis://:p@h/0", "redis://:***@h/0"),
        ("postgres://u:p%40q@[::1]:5432/db", "postgres://u:***@[::1]:5432/db"),
        ("postgres://u@h/db?sslmode=off&password=p", "postgres://u@h/db?sslmode=off&password=***"),
    ],
)
def test_redact_password_replaced(url: str, expected: str) -> None:
    assert services.redact(url) == expected
