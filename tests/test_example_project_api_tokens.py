"""API tokens in the example project, over HTTP against gunicorn (SPEC section 7).

The notes API needs ``notes:read`` to read and ``notes:write`` to write; a
token without scopes and a session's access token may do both. One server,
one worker, a throwaway SQLite database: this runs in both halves.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import requests

from tests.e2e import HTTP_TIMEOUT, Server, bearer, example_env, running_servers, seed_users

pytestmark = pytest.mark.e2e

API_TOKENS = "/api/auth/api-tokens/"
NOTES = "/api/notes/"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("example_api_tokens")
    env = example_env(workdir / "db.sqlite3", TOKENKIT_LOGIN_RATE="1000/min")
    seed_users(env)
    with running_servers(env, workdir) as (started,):
        yield started


@pytest.fixture(scope="module")
def access(server: Server) -> str:
    return str(server.login("demo", "demo-password")["access"])


def new_token(server: Server, access: str, **body: Any) -> dict[str, Any]:
    response = requests.post(
        server.url(API_TOKENS),
        json={"name": "script", "expires_in": 86400, **body},
        headers=bearer(access),
        timeout=HTTP_TIMEOUT,
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def call(server: Server, method: str, token: str, path: str = NOTES, **kwargs: Any) -> Any:
    return requests.request(
        method, server.url(path), headers=bearer(token), timeout=HTTP_TIMEOUT, **kwargs
    )


def test_example_api_token_reads_notes_and_shows_its_expiry(server: Server, access: str) -> None:
    token = new_token(server, access, scopes=["notes:read"])

    me = call(server, "GET", token["token"], "/api/me/")
    notes = call(server, "GET", token["token"])

    assert me.status_code == 200
    assert me.json() == {"username": "demo"}
    assert notes.status_code == 200, notes.text
    expires_at = datetime.fromisoformat(
        notes.headers["X-API-Token-Expires-At"].replace("Z", "+00:00")
    )
    remaining = expires_at - datetime.now(timezone.utc)
    assert timedelta(hours=23) < remaining <= timedelta(days=1)


def test_example_api_token_without_notes_write_cannot_write(server: Server, access: str) -> None:
    reader = new_token(server, access, scopes=["notes:read"])

    response = call(server, "POST", reader["token"], json={"title": "t", "body": "b"})

    assert response.status_code == 403
    assert response.json()["code"] == "insufficient_scope"
    assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]
    assert 'scope="notes:write"' in response.headers["WWW-Authenticate"]


def test_example_api_token_with_notes_write_only_cannot_read(server: Server, access: str) -> None:
    writer = new_token(server, access, scopes=["notes:write"])

    created = call(server, "POST", writer["token"], json={"title": "from cron", "body": "b"})
    listed = call(server, "GET", writer["token"])

    assert created.status_code == 201, created.text
    assert listed.status_code == 403
    assert 'scope="notes:read"' in listed.headers["WWW-Authenticate"]
    mine = call(server, "GET", access).json()
    assert "from cron" in [note["title"] for note in mine]


@pytest.mark.parametrize("scopes", [[], ["notes:read", "notes:write"]], ids=["none", "both"])
def test_example_api_token_with_all_or_no_scopes_reads_and_writes(
    server: Server, access: str, scopes: list[str]
) -> None:
    token = new_token(server, access, scopes=scopes)["token"]

    created = call(server, "POST", token, json={"title": "t", "body": "b"})
    note_url = f"{NOTES}{created.json()['id']}/"
    read = call(server, "GET", token, note_url)
    deleted = call(server, "DELETE", token, note_url)

    assert (created.status_code, read.status_code, deleted.status_code) == (201, 200, 204)


def test_example_api_token_cannot_manage_api_tokens(server: Server, access: str) -> None:
    token = new_token(server, access)

    listed = call(server, "GET", token["token"], API_TOKENS)
    created = call(server, "POST", token["token"], API_TOKENS, json={"name": "x", "expires_in": 60})

    for response in (listed, created):
        assert response.status_code == 403
        assert response.json()["code"] == "api_token_not_allowed"


def test_example_api_token_revoked_over_http_is_refused_next_request(
    server: Server, access: str
) -> None:
    token = new_token(server, access)
    assert call(server, "GET", token["token"]).status_code == 200

    revoked = call(server, "DELETE", access, f"{API_TOKENS}{token['id']}/")
    after = call(server, "GET", token["token"])

    assert revoked.status_code == 204
    assert after.status_code == 401
    assert after.json()["code"] == "token_revoked"
    listed = call(server, "GET", access, API_TOKENS).json()
    assert token["id"] not in [row["id"] for row in listed["results"]]


def test_example_api_token_auth_client_reads_expiry_warns_and_names_revocation(
    server: Server, access: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The Python client's ``APITokenAuth`` against the real server (issue 13, item 4)."""
    from django_tokenkit.client import APITokenAuth
    from django_tokenkit.client.errors import APITokenRevoked

    created = new_token(server, access, scopes=["notes:read"])  # one day: inside the 7-day warning
    auth = APITokenAuth(created["token"])
    with caplog.at_level("WARNING", logger="django_tokenkit.client"):
        first = requests.get(server.url(NOTES), auth=auth, timeout=HTTP_TIMEOUT)
        second = requests.get(server.url(NOTES), auth=auth, timeout=HTTP_TIMEOUT)

    assert (first.status_code, second.status_code) == (200, 200)
    assert auth.expires_at is not None
    assert timedelta(hours=23) < auth.expires_at - datetime.now(timezone.utc) <= timedelta(days=1)
    warnings = [r for r in caplog.records if r.name == "django_tokenkit.client"]
    assert len(warnings) == 1  # at most once a day per token and process
    assert created["hint"] in warnings[0].getMessage()
    assert created["token"] not in caplog.text

    revoked = requests.delete(
        server.url(f"{API_TOKENS}{created['id']}/"), headers=bearer(access), timeout=HTTP_TIMEOUT
    )
    assert revoked.status_code == 204
    with pytest.raises(APITokenRevoked) as raised:
        requests.get(server.url(NOTES), auth=auth, timeout=HTTP_TIMEOUT)
    assert created["token"] not in str(raised.value)
