"""The example project under gunicorn in its other modes (SPEC section 7).

``tests/test_example_project.py`` serves the demo as ``make demo`` starts it;
these start it as a person switching features on would: with the refresh
cookie (``TOKENKIT_REFRESH_COOKIE=1``) and with ``DJANGO_DEBUG=0``, each on a
throwaway SQLite database, driven over real HTTP.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from http.cookies import SimpleCookie
from pathlib import Path

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
from tests.keypairs import private_pem

COOKIE = "tokenkit_refresh"
CREDENTIALS = {"username": "demo", "password": "demo-password"}


def set_cookies(response: requests.Response) -> dict[str, SimpleCookie]:
    """Each ``Set-Cookie`` header of ``response``, parsed, by cookie name."""
    parsed: dict[str, SimpleCookie] = {}
    for header in response.raw.headers.getlist("Set-Cookie"):
        cookie: SimpleCookie = SimpleCookie()
        cookie.load(header)
        for name in cookie:
            parsed[name] = cookie
    return parsed


def post_json(
    session: requests.Session, url: str, body: object, **headers: str
) -> requests.Response:
    return session.post(url, json=body, headers=headers, timeout=HTTP_TIMEOUT)


@pytest.fixture(scope="module")
def cookie_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The demo as ``TOKENKIT_REFRESH_COOKIE=1 make demo`` runs it (DEBUG on, http)."""
    workdir = tmp_path_factory.mktemp("cookie_server")
    env = example_env(
        workdir / "db.sqlite3", TOKENKIT_REFRESH_COOKIE="1", TOKENKIT_LOGIN_RATE="1000/min"
    )
    seed_users(env)
    with running_servers(env, workdir) as (server,):
        yield server


@pytest.mark.e2e
def test_example_server_refresh_cookie_mode_login_refresh_logout(cookie_server: Server) -> None:
    """A browser's session in cookie mode: the refresh token never reaches the page."""
    server = cookie_server
    browser = requests.Session()
    same_origin = {"Origin": server.base_url}

    login = post_json(browser, server.url("/api/auth/token/"), CREDENTIALS, **same_origin)
    assert login.status_code == 200, login.text
    assert "refresh" not in login.json()
    assert set(login.json()) == {"access", "token_type", "expires_in", "refresh_expires_in"}
    cookie = set_cookies(login)[COOKIE][COOKIE]
    assert cookie["httponly"] is True
    assert cookie["secure"] == ""  # DEBUG on: the demo runs over http
    assert cookie["path"] == "/api/auth/"
    csrf = browser.cookies["csrftoken"]

    refresh_url = server.url("/api/auth/token/refresh/")
    no_header = post_json(browser, refresh_url, {}, **same_origin)
    assert no_header.status_code == 403
    assert no_header.json()["code"] == "csrf_failed"

    refreshed = post_json(browser, refresh_url, {}, **same_origin, **{"X-CSRFToken": csrf})
    assert refreshed.status_code == 200, refreshed.text
    assert "refresh" not in refreshed.json()
    assert set_cookies(refreshed)[COOKIE][COOKIE].value != cookie.value
    access = refreshed.json()["access"]
    me = requests.get(server.url("/api/me/"), headers=bearer(access), timeout=HTTP_TIMEOUT)
    assert me.json() == {"username": "demo"}

    logout = post_json(
        browser, server.url("/api/auth/logout/"), {}, **same_origin, **{"X-CSRFToken": csrf}
    )
    assert logout.status_code == 204
    assert set_cookies(logout)[COOKIE][COOKIE].value == ""
    after = requests.get(server.url("/api/me/"), headers=bearer(access), timeout=HTTP_TIMEOUT)
    assert after.json()["code"] == "token_revoked"


@pytest.mark.e2e
def test_example_server_refresh_cookie_mode_refuses_cross_site_login(
    cookie_server: Server,
) -> None:
    """Login CSRF: another site's form or fetch never plants the refresh cookie."""
    server = cookie_server
    url = server.url("/api/auth/token/")
    attacker = {"Origin": "https://attacker.example"}
    form = requests.post(url, data=CREDENTIALS, headers=attacker, timeout=HTTP_TIMEOUT)
    cross_origin_json = requests.post(url, json=CREDENTIALS, headers=attacker, timeout=HTTP_TIMEOUT)

    for response in (form, cross_origin_json):
        assert response.status_code == 403, response.text
        assert response.json()["code"] == "csrf_failed"
        assert COOKIE not in set_cookies(response)


def _fail_note_inserts(database: Path) -> None:
    """A real database fault the demo does not handle: a trigger that aborts inserts."""
    with sqlite3.connect(database) as connection:
        connection.execute(
            "CREATE TRIGGER fail_note_insert BEFORE INSERT ON notes_note "
            "BEGIN SELECT RAISE(ABORT, 'note storage is failing'); END"
        )
    connection.close()


@pytest.mark.e2e
def test_example_server_debug_off_logs_500_traceback_without_token(tmp_path: Path) -> None:
    """With DJANGO_DEBUG=0 an unexpected error leaves a traceback in the server's log."""
    database = tmp_path / "db.sqlite3"
    env = example_env(database, DJANGO_DEBUG="0", TOKENKIT_LOGIN_RATE="1000/min")
    seed_users(env)
    _fail_note_inserts(database)
    with running_servers(env, tmp_path) as (server,):
        access = server.login("demo", "demo-password")["access"]

        response = requests.post(
            server.url("/api/notes/"),
            json={"title": "t", "body": "b"},
            headers=bearer(access),
            timeout=HTTP_TIMEOUT,
        )

        assert response.status_code == 500
        assert access not in response.text  # DEBUG off: no technical page
        log = server.log.read_text(errors="replace")
        assert "ERROR django.request" in log
        assert "Internal Server Error: /api/notes/" in log
        assert "Traceback (most recent call last)" in log
        assert "note storage is failing" in log
        for secret in (access, access.rsplit(".", 1)[-1], CREDENTIALS["password"]):
            assert secret not in log
            assert secret not in server.access_log.read_text(errors="replace")


def test_example_project_key_variables_make_an_asymmetric_issuer(tmp_path: Path) -> None:
    """Without the services: the variables alone make an ES256 issuer (manage.py check)."""
    key = tmp_path / "k.pem"
    key.write_text(private_pem("EdDSA"))
    env = example_env(
        tmp_path / "db.sqlite3", TOKENKIT_ALGORITHM="EdDSA", TOKENKIT_SIGNING_KEY_FILES=str(key)
    )
    checked = manage(env, "check", "--fail-level", "ERROR")
    bad = manage(
        {**env, "TOKENKIT_SIGNING_KEY_FILES": str(tmp_path / "missing.pem")},
        "check",
        check=False,
    )

    assert "no issues" in checked.stdout or checked.returncode == 0
    assert bad.returncode != 0
    assert "tokenkit.E015" in bad.stderr
