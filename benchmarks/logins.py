"""Logging the benchmark users in through tokenkit's login endpoint.

The post-login row (``tokenkit-redis-post-login``) is measured with tokens
from logins made just before each round: the same ``POST /api/auth/token/``
a client makes, so everything a login does (the session, the pair,
``token_obtained`` and the ``last_login`` save it triggers in the benchmark
project, the user cache's refresh) has just happened when the requests come.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.environment import PASSWORD

LOGIN_PATH = "/api/auth/token/"


def _body(username: str) -> str:
    return json.dumps({"username": username, "password": PASSWORD})


def over_http(port: int, usernames: Sequence[str]) -> list[str]:
    """Log each user in on the server at 127.0.0.1:``port``; their new access tokens."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    tokens = []
    try:
        for username in usernames:
            connection.request(
                "POST",
                LOGIN_PATH,
                body=_body(username),
                headers={"Content-Type": "application/json"},
            )
            response = connection.getresponse()
            tokens.append(_access(response.status, response.read()))
    finally:
        connection.close()
    return tokens


def in_process(usernames: Sequence[str], client: Any = None) -> list[str]:
    """The same logins through Django's test client, in this process."""
    from django.test import Client

    client = client or Client()
    tokens = []
    for username in usernames:
        response = client.post(LOGIN_PATH, _body(username), content_type="application/json")
        tokens.append(_access(response.status_code, response.content))
    return tokens


def write_headers(path: Path, tokens: Sequence[str]) -> None:
    """The load generator's ``Authorization`` values, one a line."""
    path.write_text("".join(f"Bearer {token}\n" for token in tokens))


def _access(status: int, body: bytes) -> str:
    if status != 200:
        raise SystemExit(f"A benchmark login failed: HTTP {status}: {body[:200]!r}")
    access: str = json.loads(body)["access"]
    return access
