"""The example project of SPEC section 7 works as a person would run it.

These tests never import the example project: it has its own settings module
and would clash with ``tests.settings`` in this process. They drive it the way
``make demo`` does, through ``manage.py`` in subprocesses and through HTTP
against a real gunicorn, each on a throwaway SQLite database.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e import (
    HTTP_TIMEOUT,
    Server,
    bearer,
    example_env,
    manage,
    running_servers,
    seed_users,
)


def settings_value(env: dict[str, str], expression: str) -> Any:
    """Evaluate ``expression`` over the example project's settings in a subprocess."""
    code = f"import json; from django.conf import settings; print(json.dumps({expression}))"
    result = manage(env, "shell", "-c", code)
    return json.loads(result.stdout.strip().splitlines()[-1])


#: The example project's TOKENKIT["API_TOKEN_SCOPES"], set whatever the environment says.
EXAMPLE_SCOPES = {
    "notes:read": "Read your notes.",
    "notes:write": "Create, change and delete your notes.",
}


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


def test_example_project_opts_in_to_the_tokenkit_user_admin(database: Path) -> None:
    code = (
        "import json; from django.contrib import admin; "
        "from django.contrib.auth import get_user_model; "
        "print(json.dumps(type(admin.site._registry[get_user_model()]).__name__))"
    )
    result = manage(example_env(database), "shell", "-c", code)
    assert json.loads(result.stdout.strip().splitlines()[-1]) == "TokenkitUserAdmin"


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
        "Single-page demo  http://127.0.0.1:8000/ ",
        "Admin             http://127.0.0.1:8000/admin/ ",
        "http://127.0.0.1:8000/api/auth/token/",
    ):
        assert expected in second.stdout
    # The API docs line appears exactly when the example serves the page.
    serves_docs = manage(
        env, "shell", "-c", "from django.urls import resolve; resolve('/api/docs/')", check=False
    )
    assert ("http://127.0.0.1:8000/api/docs/" in second.stdout) == (serves_docs.returncode == 0)
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
        "tokenkit": {"API_TOKEN_SCOPES": EXAMPLE_SCOPES},
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
        TOKENKIT_REVOCATION_LEASE_MS="50",
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
            "API_TOKEN_SCOPES": EXAMPLE_SCOPES,
            "ACCESS_TOKEN_LIFETIME": 60,
            "REFRESH_TOKEN_LIFETIME": 3600,
            "SLIDING_THRESHOLD": 20,
            "REFRESH_GRACE_PERIOD": 5,
            "SESSION_MAX_LIFETIME": 86400,
            "LEEWAY": 0,
            "LOGIN_THROTTLE_RATE": "3/min",
            "REVOCATION_LEASE": 0.05,
        },
        "cache": ["django_redis.cache.RedisCache", "redis://127.0.0.1:6379/5"],
    }


@pytest.mark.parametrize(
    ("debug", "secure"), [("1", False), ("0", True)], ids=["debug-http", "production"]
)
def test_example_settings_refresh_cookie_variable_turns_cookie_mode_on(
    database: Path, debug: str, secure: bool
) -> None:
    env = example_env(database, TOKENKIT_REFRESH_COOKIE="1", DJANGO_DEBUG=debug)

    tokenkit = settings_value(env, "settings.TOKENKIT")

    assert tokenkit == {
        "API_TOKEN_SCOPES": EXAMPLE_SCOPES,
        "REFRESH_COOKIE": True,
        "REFRESH_COOKIE_SECURE": secure,
    }


def test_example_settings_refresh_cookie_variable_zero_leaves_cookie_off(database: Path) -> None:
    env = example_env(database, TOKENKIT_REFRESH_COOKIE="0")

    assert settings_value(env, "settings.TOKENKIT") == {"API_TOKEN_SCOPES": EXAMPLE_SCOPES}


@pytest.mark.parametrize("debug", ["1", "0"])
def test_example_settings_logging_sends_errors_to_stderr_never_mail(
    database: Path, debug: str
) -> None:
    """Request errors reach stderr whatever DEBUG is, and never Django's admin mail."""
    env = example_env(database, DJANGO_DEBUG=debug)
    code = (
        "import json, logging\n"
        "def chain(name):\n"
        "    logger, found = logging.getLogger(name), []\n"
        "    while logger:\n"
        "        found += [[type(h).__name__, getattr(getattr(h, 'stream', None), 'name', None)]"
        " for h in logger.handlers]\n"
        "        logger = logger.parent if logger.propagate else None\n"
        "    return found\n"
        "print(json.dumps({name: [logging.getLogger(name).isEnabledFor(logging.ERROR), chain(name)]"
        " for name in ('django.request', 'django_tokenkit')}))"
    )

    result = manage(env, "shell", "-c", code)

    stderr_only = [True, [["StreamHandler", "<stderr>"]]]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {
        "django.request": stderr_only,
        "django_tokenkit": stderr_only,
    }


@pytest.mark.parametrize(
    ("extra", "lease_seconds"),
    [
        ({"REDIS_URL": "redis://127.0.0.1:6379/5"}, 0.05),
        ({"REDIS_URL": "redis://127.0.0.1:6379/5", "TOKENKIT_REVOCATION_LEASE_MS": "0"}, None),
        ({"REDIS_URL": "redis://127.0.0.1:6379/5", "TOKENKIT_REVOCATION_LEASE_MS": "80"}, 0.08),
        ({}, None),
    ],
    ids=["redis-default", "redis-off", "redis-80ms", "local-memory"],
)
def test_example_settings_revocation_lease_follows_redis_url_and_variable(
    database: Path, extra: dict[str, str], lease_seconds: float | None
) -> None:
    env = example_env(database, **extra)

    lease = settings_value(
        env,
        "(lambda lease: lease and lease.total_seconds())"
        "(__import__('django_tokenkit.conf').conf.tokenkit_settings.revocation_lease)",
    )

    assert lease == lease_seconds


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("TOKENKIT_ACCESS_TOKEN_LIFETIME", "15m"),
        ("TOKENKIT_LEEWAY", "1.5"),
        ("TOKENKIT_REVOCATION_LEASE_MS", "0.05"),
        ("TOKENKIT_REFRESH_COOKIE", "yes please"),
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


@pytest.fixture(scope="module")
def example_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Serve the example project with gunicorn on a migrated, seeded SQLite database.

    Module-scoped: starting gunicorn costs seconds, and each test below makes
    its own logins so none depends on another's state.
    """
    workdir = tmp_path_factory.mktemp("example_server")
    # Generous login throttle: this module logs in more than the demo's
    # default 10/min allows from one address.
    env = example_env(workdir / "db.sqlite3", TOKENKIT_LOGIN_RATE="1000/min")
    seed_users(env)
    with running_servers(env, workdir) as (server,):
        yield server


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
def test_example_server_serves_demo_and_client_scripts_under_gunicorn(
    example_server: Server,
) -> None:
    page = requests.get(example_server.url("/"), timeout=HTTP_TIMEOUT)
    scripts = [
        requests.get(example_server.url(path), timeout=HTTP_TIMEOUT)
        for path in ("/static/demo/app.js", "/static/django_tokenkit/tokenkit.js")
    ]

    assert '<script type="module" src="/static/demo/app.js">' in page.text
    for script in scripts:
        assert script.status_code == 200
        assert "javascript" in script.headers["Content-Type"]
    assert "export function createClient" in scripts[1].text


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
    # SlidingTokenMiddleware is installed, but a fresh token is far from expiry.
    assert "X-New-Token" not in me.headers


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
