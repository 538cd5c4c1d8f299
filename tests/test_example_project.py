"""The example project of SPEC section 7 works as a person would run it.

These tests never import the example project: it has its own settings module
and would clash with ``tests.settings`` in this process. They drive it the way
``make demo`` does, through ``manage.py`` in subprocesses and through HTTP
against a real gunicorn, each on a throwaway SQLite database.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_DIR = REPO_ROOT / "example_project"
MANAGE_PY = EXAMPLE_DIR / "manage.py"
# Not resolved: in a venv, sys.executable is a symlink whose directory is the
# venv's bin/, and that is where the dev extra installed gunicorn.
GUNICORN = Path(sys.executable).parent / "gunicorn"

#: Variables the example project reads; cleared so a developer's shell (or
#: the services half of `make test`, which sets DATABASE_URL and REDIS_URL)
#: cannot change what these tests see.
EXAMPLE_ENV_VARIABLES = (
    "DATABASE_URL",
    "REDIS_URL",
    "DJANGO_DEBUG",
    "DJANGO_ALLOWED_HOSTS",
    "DJANGO_SECRET_KEY",
)

SUBPROCESS_TIMEOUT = 120
SERVER_START_DEADLINE = 30.0
HTTP_TIMEOUT = 10


def example_env(database: Path, **overrides: str) -> dict[str, str]:
    """Return an environment that runs the example project on ``database``.

    pytest-django exports ``DJANGO_SETTINGS_MODULE=tests.settings`` into this
    process's environment, and ``manage.py`` only sets its own as a default,
    so it is set explicitly here.
    """
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in EXAMPLE_ENV_VARIABLES and not key.startswith("TOKENKIT_")
    }
    env["DJANGO_SETTINGS_MODULE"] = "example_project.settings"
    env["DATABASE_URL"] = f"sqlite:///{database}"
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


def settings_value(env: dict[str, str], expression: str) -> Any:
    """Evaluate ``expression`` over the example project's settings in a subprocess."""
    code = f"import json; from django.conf import settings; print(json.dumps({expression}))"
    result = manage(env, "shell", "-c", code)
    return json.loads(result.stdout.strip().splitlines()[-1])


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def database(tmp_path: Path) -> Path:
    return tmp_path / "db.sqlite3"


# --- manage.py ---------------------------------------------------------------


def test_example_project_check_and_migrate_on_fresh_sqlite_succeed(database: Path) -> None:
    env = example_env(database)

    manage(env, "check", "--fail-level", "ERROR")
    migrate = manage(env, "migrate", "--no-input")

    assert "Applying notes.0001_initial" in migrate.stdout
    assert database.exists()


def test_example_project_models_and_migrations_agree(database: Path) -> None:
    env = example_env(database)

    result = manage(env, "makemigrations", "--check", "--dry-run", "notes", check=False)

    assert result.returncode == 0, result.stdout + result.stderr


def test_demo_users_run_twice_resets_accounts_and_prints_credentials(database: Path) -> None:
    env = example_env(database)
    manage(env, "migrate", "--no-input")

    first = manage(env, "demo_users")
    second = manage(env, "demo_users")

    assert "Created user demo." in first.stdout
    assert "Created superuser admin." in first.stdout
    assert "Reset user demo." in second.stdout
    assert "Reset superuser admin." in second.stdout
    for expected in (
        "demo / demo-password",
        "admin / admin-password",
        "http://127.0.0.1:8000/",
        "http://127.0.0.1:8000/admin/",
        "http://127.0.0.1:8000/api/auth/token/",
    ):
        assert expected in second.stdout
    accounts = manage(
        env,
        "shell",
        "-c",
        "import json; from django.contrib.auth import get_user_model; "
        "print(json.dumps(sorted((u.username, u.is_staff, u.is_superuser, "
        "u.check_password(u.username + '-password')) for u in get_user_model().objects.all())))",
    )
    assert json.loads(accounts.stdout.strip().splitlines()[-1]) == [
        ["admin", True, True, True],
        ["demo", False, False, True],
    ]


# --- settings from the environment (SPEC section 7) -----------------------------


def test_example_settings_without_environment_use_demo_defaults(database: Path) -> None:
    env = example_env(database)

    values = settings_value(
        env,
        '{"debug": settings.DEBUG, "hosts": settings.ALLOWED_HOSTS, '
        '"key_length": len(settings.SECRET_KEY), "tokenkit": settings.TOKENKIT, '
        '"cache": settings.CACHES["default"]["BACKEND"], '
        '"db": str(settings.DATABASES["default"]["NAME"])}',
    )

    assert values.pop("key_length") >= 50
    assert values == {
        "debug": True,
        "hosts": ["127.0.0.1", "localhost"],
        "tokenkit": {},
        "cache": "django.core.cache.backends.locmem.LocMemCache",
        "db": str(database),
    }


def test_example_settings_with_environment_map_to_tokenkit_and_django(database: Path) -> None:
    env = example_env(
        database,
        TOKENKIT_ACCESS_TOKEN_LIFETIME="60",
        TOKENKIT_REFRESH_TOKEN_LIFETIME="3600",
        TOKENKIT_SLIDING_THRESHOLD="20",
        TOKENKIT_REFRESH_GRACE_PERIOD="5",
        TOKENKIT_SESSION_MAX_LIFETIME="86400",
        TOKENKIT_LEEWAY="0",
        TOKENKIT_LOGIN_RATE="3/min",
        REDIS_URL="redis://127.0.0.1:6379/5",
        DJANGO_DEBUG="0",
        DJANGO_ALLOWED_HOSTS="example.test, api.example.test",
        DJANGO_SECRET_KEY="s" * 64,
    )

    values = settings_value(
        env,
        '{"debug": settings.DEBUG, "hosts": settings.ALLOWED_HOSTS, '
        '"key": settings.SECRET_KEY, "tokenkit": settings.TOKENKIT, '
        '"cache": [settings.CACHES["default"]["BACKEND"], settings.CACHES["default"]["LOCATION"]]}',
    )

    assert values == {
        "debug": False,
        "hosts": ["example.test", "api.example.test"],
        "key": "s" * 64,
        "tokenkit": {
            "ACCESS_TOKEN_LIFETIME": 60,
            "REFRESH_TOKEN_LIFETIME": 3600,
            "SLIDING_THRESHOLD": 20,
            "REFRESH_GRACE_PERIOD": 5,
            "SESSION_MAX_LIFETIME": 86400,
            "LEEWAY": 0,
            "LOGIN_THROTTLE_RATE": "3/min",
        },
        "cache": ["django_redis.cache.RedisCache", "redis://127.0.0.1:6379/5"],
    }


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("TOKENKIT_ACCESS_TOKEN_LIFETIME", "15m"),
        ("TOKENKIT_LEEWAY", "1.5"),
        ("DJANGO_DEBUG", "maybe"),
    ],
)
def test_example_settings_with_malformed_variable_fail_naming_it(
    database: Path, variable: str, value: str
) -> None:
    env = example_env(database, **{variable: value})

    result = manage(env, "check", check=False)

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert variable in result.stderr


# --- end to end over HTTP --------------------------------------------------------


@dataclass
class Server:
    """A running example project, reached at ``base_url``."""

    base_url: str

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


def bearer(access: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {access}"}


def wait_until_serving(process: subprocess.Popen[bytes], base_url: str, log: Path) -> None:
    """Poll the landing page until it answers, the server dies, or the deadline passes."""
    deadline = time.monotonic() + SERVER_START_DEADLINE
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"gunicorn exited with {process.returncode}:\n{log.read_text()}")
        try:
            if requests.get(base_url + "/", timeout=1).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    pytest.fail(f"gunicorn did not answer within {SERVER_START_DEADLINE}s:\n{log.read_text()}")


@pytest.fixture(scope="module")
def example_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Serve the example project with gunicorn on a migrated, seeded SQLite database.

    Module-scoped: starting gunicorn costs seconds, and each test below makes
    its own logins so none depends on another's state.
    """
    if not GUNICORN.exists():
        pytest.fail(f"{GUNICORN} not found: install the dev extra (pip install -e '.[dev]').")
    workdir = tmp_path_factory.mktemp("example_server")
    # Generous login throttle: this module logs in more than the demo's
    # default 10/min allows from one address.
    env = example_env(workdir / "db.sqlite3", TOKENKIT_LOGIN_RATE="1000/min")
    manage(env, "migrate", "--no-input")
    manage(env, "demo_users")
    manage(
        env,
        "shell",
        "-c",
        "from django.contrib.auth import get_user_model; "
        "get_user_model().objects.create_user('other', password='other-password')",
    )

    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    log = workdir / "gunicorn.log"
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            [
                str(GUNICORN),
                "--chdir",
                str(EXAMPLE_DIR),
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "1",
                "--access-logfile",
                "-",
                "example_project.wsgi",
            ],
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_serving(process, base_url, log)
        yield Server(base_url=base_url)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@pytest.mark.e2e
def test_example_server_landing_and_admin_pages_render(example_server: Server) -> None:
    landing = requests.get(example_server.url("/"), timeout=HTTP_TIMEOUT)
    admin_login = requests.get(example_server.url("/admin/login/"), timeout=HTTP_TIMEOUT)

    assert landing.status_code == 200
    assert landing.headers["Content-Type"].startswith("text/html")
    assert "/api/auth/token/" in landing.text
    assert f"curl -s -X POST {example_server.base_url}/api/auth/token/" in landing.text
    assert admin_login.status_code == 200


@pytest.mark.e2e
def test_example_server_login_returns_bearer_pair_for_me(example_server: Server) -> None:
    pair = example_server.login("demo", "demo-password")

    me = requests.get(
        example_server.url("/api/me/"), headers=bearer(pair["access"]), timeout=HTTP_TIMEOUT
    )

    assert pair["token_type"] == "Bearer"
    assert set(pair) >= {"access", "refresh", "token_type", "expires_in", "refresh_expires_in"}
    assert isinstance(pair["expires_in"], int)
    assert isinstance(pair["refresh_expires_in"], int)
    assert me.status_code == 200
    assert me.json() == {"username": "demo"}


@pytest.mark.e2e
def test_example_server_login_with_wrong_password_is_401_invalid_credentials(
    example_server: Server,
) -> None:
    response = requests.post(
        example_server.url("/api/auth/token/"),
        json={"username": "demo", "password": "wrong"},
        timeout=HTTP_TIMEOUT,
    )

    assert response.status_code == 401
    assert response.json()["code"] == "invalid_credentials"


@pytest.mark.e2e
def test_example_server_notes_are_private_to_their_owner(example_server: Server) -> None:
    demo = bearer(example_server.login("demo", "demo-password")["access"])
    other = bearer(example_server.login("other", "other-password")["access"])
    notes_url = example_server.url("/api/notes/")

    created = requests.post(
        notes_url, json={"title": "Groceries", "body": "milk"}, headers=demo, timeout=HTTP_TIMEOUT
    )
    assert created.status_code == 201, created.text
    note = created.json()
    note_url = f"{notes_url}{note['id']}/"
    assert note["title"] == "Groceries"
    assert set(note) == {"id", "title", "body", "created", "updated"}

    own_list = requests.get(notes_url, headers=demo, timeout=HTTP_TIMEOUT)
    assert own_list.status_code == 200
    assert note["id"] in [item["id"] for item in own_list.json()]

    updated = requests.patch(
        note_url, json={"body": "oat milk"}, headers=demo, timeout=HTTP_TIMEOUT
    )
    assert updated.status_code == 200
    assert updated.json()["body"] == "oat milk"

    other_list = requests.get(notes_url, headers=other, timeout=HTTP_TIMEOUT)
    assert other_list.status_code == 200
    assert note["id"] not in [item["id"] for item in other_list.json()]
    for method, payload in (
        ("GET", None),
        ("PATCH", {"title": "mine now"}),
        ("DELETE", None),
    ):
        response = requests.request(
            method, note_url, json=payload, headers=other, timeout=HTTP_TIMEOUT
        )
        assert response.status_code == 404, (method, response.text)

    deleted = requests.delete(note_url, headers=demo, timeout=HTTP_TIMEOUT)
    assert deleted.status_code == 204
    gone = requests.get(note_url, headers=demo, timeout=HTTP_TIMEOUT)
    assert gone.status_code == 404


@pytest.mark.e2e
def test_example_server_refresh_then_logout_ends_the_session(example_server: Server) -> None:
    pair = example_server.login("demo", "demo-password")

    refreshed = requests.post(
        example_server.url("/api/auth/token/refresh/"),
        json={"refresh": pair["refresh"]},
        timeout=HTTP_TIMEOUT,
    )
    assert refreshed.status_code == 200, refreshed.text
    new_pair = refreshed.json()
    assert new_pair["token_type"] == "Bearer"
    assert new_pair["access"] != pair["access"]
    assert new_pair["refresh"] != pair["refresh"]
    me = requests.get(
        example_server.url("/api/me/"), headers=bearer(new_pair["access"]), timeout=HTTP_TIMEOUT
    )
    assert me.status_code == 200
    assert me.json() == {"username": "demo"}

    logout = requests.post(
        example_server.url("/api/auth/logout/"),
        json={"refresh": new_pair["refresh"]},
        headers=bearer(new_pair["access"]),
        timeout=HTTP_TIMEOUT,
    )
    assert logout.status_code == 204, logout.text

    after_logout = requests.get(
        example_server.url("/api/me/"), headers=bearer(new_pair["access"]), timeout=HTTP_TIMEOUT
    )
    refresh_after_logout = requests.post(
        example_server.url("/api/auth/token/refresh/"),
        json={"refresh": new_pair["refresh"]},
        timeout=HTTP_TIMEOUT,
    )
    assert after_logout.status_code == 401
    assert after_logout.json()["code"] == "token_revoked"
    assert refresh_after_logout.status_code == 401
    assert refresh_after_logout.json()["code"] == "token_revoked"


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "not_authenticated"),
        ({"Authorization": "Bearer not-a-token"}, "token_invalid"),
        ({"Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl"}, "token_invalid"),
    ],
    ids=["missing", "garbage", "bad-signature"],
)
def test_example_server_me_without_valid_token_is_401_with_code(
    example_server: Server, headers: dict[str, str], code: str
) -> None:
    response = requests.get(example_server.url("/api/me/"), headers=headers, timeout=HTTP_TIMEOUT)

    assert response.status_code == 401
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"detail", "code"}
    assert body["code"] == code
    assert response.headers["WWW-Authenticate"].startswith('Bearer realm="api"')


@pytest.mark.e2e
def test_example_server_notes_with_deeply_nested_json_is_400(example_server: Server) -> None:
    access = example_server.login("demo", "demo-password")["access"]
    headers = {**bearer(access), "Content-Type": "application/json"}

    response = requests.post(
        example_server.url("/api/notes/"),
        data="[" * 100_000 + "]" * 100_000,
        headers=headers,
        timeout=HTTP_TIMEOUT,
    )

    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"
