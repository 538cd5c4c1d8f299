"""``APITokenAuth``: the header, the expiry warning, and the errors that say what to do.

The server side of API tokens is being built separately; until it lands,
these tests run against a small real HTTP server (``http.server`` in a
thread) that answers the way SPEC sections 5 and 6 say the API does.
"""

from __future__ import annotations

import asyncio
import http.server
import json
import logging
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
import requests

from django_tokenkit.client import APITokenAuth, APITokenExpired, APITokenRevoked
from django_tokenkit.client import api_tokens as api_tokens_module
from tests.client.support import SteppedClock

TOKEN = "tkp_" + "A1b2" * 10 + "xyz" + "QWE123"
DAY = 86400


class APIStub(http.server.BaseHTTPRequestHandler):
    """``/ok?days=N`` answers 200 with an expiry N days away; ``/expired``, ``/revoked`` 401."""

    seen_authorization: list[str] = []

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        APIStub.seen_authorization.append(self.headers.get("Authorization", ""))
        path, _, query = self.path.partition("?")
        if path == "/ok":
            body: dict[str, Any] = {"username": "bot"}
            status, headers = 200, {}
            if query.startswith("days="):
                when = datetime.now(timezone.utc) + timedelta(days=float(query[5:]))
                headers["X-API-Token-Expires-At"] = when.strftime("%Y-%m-%dT%H:%M:%SZ")
        else:
            code = {"/expired": "token_expired", "/revoked": "token_revoked"}[path]
            body = {"detail": "Token refused.", "code": code}
            status, headers = 401, {"WWW-Authenticate": 'Bearer realm="api"'}
        payload = json.dumps(body).encode()
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


@pytest.fixture(scope="module")
def api() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), APIStub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def _forget_warnings() -> Iterator[None]:
    api_tokens_module._warned_at.clear()
    yield
    api_tokens_module._warned_at.clear()


def get(library: str, url: str, auth: APITokenAuth) -> int:
    """GET ``url`` with ``auth`` through ``library``; the status."""
    if library == "requests":
        return requests.get(url, auth=auth, timeout=10).status_code
    if library == "httpx":
        with httpx.Client() as client:
            return client.get(url, auth=auth).status_code

    async def main() -> int:
        async with httpx.AsyncClient() as client:
            return (await client.get(url, auth=auth)).status_code

    return asyncio.run(main())


LIBRARIES = ["requests", "httpx", "httpx-async"]


@pytest.mark.parametrize("library", LIBRARIES)
def test_api_token_auth_sends_bearer_and_reads_expiry(api: str, library: str) -> None:
    auth = APITokenAuth(TOKEN)

    assert get(library, f"{api}/ok?days=30", auth) == 200

    assert APIStub.seen_authorization[-1] == f"Bearer {TOKEN}"
    assert auth.expires_at is not None
    assert timedelta(days=29) < auth.expires_at - datetime.now(timezone.utc) <= timedelta(days=30)


@pytest.mark.parametrize("library", LIBRARIES)
def test_api_token_auth_expiring_within_a_week_warns_once_a_day(
    api: str, library: str, caplog: pytest.LogCaptureFixture
) -> None:
    clock = SteppedClock()
    auth = APITokenAuth(TOKEN, clock=clock)
    caplog.set_level(logging.WARNING, logger="django_tokenkit.client")

    for _ in range(3):
        get(library, f"{api}/ok?days=3", auth)
    clock.now += DAY - 1
    get(library, f"{api}/ok?days=3", auth)
    assert len(caplog.records) == 1
    clock.now += 2
    get(library, f"{api}/ok?days=3", auth)

    assert len(caplog.records) == 2
    message = caplog.records[0].getMessage()
    assert "tkp_E123" in message
    assert "rotate" in message
    assert TOKEN not in caplog.text


def test_api_token_auth_far_from_expiry_or_no_expiry_does_not_warn(
    api: str, caplog: pytest.LogCaptureFixture
) -> None:
    auth = APITokenAuth(TOKEN)
    caplog.set_level(logging.WARNING, logger="django_tokenkit.client")

    get("requests", f"{api}/ok?days=8", auth)
    get("requests", f"{api}/ok", auth)

    assert caplog.records == []


def test_api_token_auth_warning_once_per_token_per_process_across_objects(
    api: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="django_tokenkit.client")
    other = TOKEN[:-6] + "ZZZ999"

    for token in (TOKEN, TOKEN, other):
        get("requests", f"{api}/ok?days=1", APITokenAuth(token))

    assert len(caplog.records) == 2


@pytest.mark.parametrize("library", LIBRARIES)
@pytest.mark.parametrize(
    ("path", "error", "advice"),
    [("/expired", APITokenExpired, "create a new one"), ("/revoked", APITokenRevoked, "new token")],
)
def test_api_token_auth_refused_raises_error_naming_what_to_do(
    api: str, library: str, path: str, error: type[Exception], advice: str
) -> None:
    auth = APITokenAuth(TOKEN)

    with pytest.raises(error) as raised:
        get(library, api + path, auth)

    assert advice in str(raised.value)
    assert "tkp_E123" in str(raised.value)
    assert TOKEN not in str(raised.value)
    assert len([a for a in APIStub.seen_authorization if a]) >= 1


def test_api_token_auth_not_an_api_token_is_refused_and_repr_hides_token() -> None:
    with pytest.raises(ValueError, match="tkp_"):
        APITokenAuth("eyJhbGciOiJIUzI1NiJ9.e30.sig")

    assert TOKEN not in repr(APITokenAuth(TOKEN))
