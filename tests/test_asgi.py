"""ASGI: an oversized body to tokenkit's endpoints is refused before it is read.

In process, Django's own ASGI handler behind
:class:`~django_tokenkit.asgi.BodyLimitMiddleware` (asgiref's communicator
drives it as a server would); then a real uvicorn serving the example
project, with a raw socket that declares 50 MB and sends none of it.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from asgiref.testing import ApplicationCommunicator
from django.core.asgi import get_asgi_application

from django_tokenkit.asgi import BodyLimitMiddleware
from django_tokenkit.parsers import MAX_BODY_BYTES
from tests.e2e import EXAMPLE_DIR, example_env, free_port
from tests.helpers import LOGIN_URL, WHOAMI_URL

FIFTY_MB = 50 * 1024 * 1024
UVICORN = Path(sys.executable).parent / "uvicorn"


def scope(path: str, content_length: int | None) -> dict[str, Any]:
    headers = [(b"host", b"testserver"), (b"content-type", b"application/json")]
    if content_length is not None:
        headers.append((b"content-length", str(content_length).encode()))
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }


def communicator(path: str, content_length: int | None) -> Any:
    """Django's ASGI application behind the middleware, driven as a server would."""
    application = BodyLimitMiddleware(get_asgi_application())
    # asgiref.testing carries no annotations.
    return ApplicationCommunicator(application, scope(path, content_length))  # type: ignore[no-untyped-call]


async def exchange(
    path: str, content_length: int | None, chunks: list[bytes]
) -> tuple[int, bytes, int]:
    """Send ``chunks`` as the body once asked; return status, body and chunks consumed."""
    driver = communicator(path, content_length)
    for index, chunk in enumerate(chunks):
        await driver.send_input(
            {"type": "http.request", "body": chunk, "more_body": index < len(chunks) - 1}
        )
    start = await driver.receive_output(timeout=5)
    body = await driver.receive_output(timeout=5)
    unread = driver.input_queue.qsize()
    await driver.wait(timeout=5)
    return start["status"], body["body"], len(chunks) - unread


def test_body_limit_declared_oversized_login_is_400_without_reading() -> None:
    status, body, consumed = async_to_sync(exchange)(LOGIN_URL, FIFTY_MB, [b"{"])

    assert status == 400
    assert json.loads(body)["code"] == "parse_error"
    assert consumed == 0  # not one byte of the body was read


@pytest.mark.parametrize("length", ["12x", "-1"])
def test_body_limit_malformed_content_length_is_400(length: str) -> None:
    async def run() -> int:
        driver = communicator(LOGIN_URL, None)
        driver.scope["headers"].append((b"content-length", length.encode()))
        start = await driver.receive_output(timeout=5)
        await driver.wait(timeout=5)
        return int(start["status"])

    assert async_to_sync(run)() == 400


def test_body_limit_chunked_oversized_body_is_400_after_the_limit() -> None:
    chunk = b" " * (MAX_BODY_BYTES // 2)
    status, body, consumed = async_to_sync(exchange)(LOGIN_URL, None, [chunk] * 4)

    assert status == 400
    assert json.loads(body)["code"] == "parse_error"
    assert consumed == 3  # stopped once past the limit


def test_body_limit_small_body_reaches_tokenkit_view() -> None:
    status, body, _ = async_to_sync(exchange)(LOGIN_URL, 5, [b"{nope"])

    assert status == 400  # the view's JSON parser saw the replayed body
    assert "JSON parse error" in json.loads(body)["detail"]


def test_body_limit_other_paths_untouched() -> None:
    big = b" " * (MAX_BODY_BYTES + 1)

    status, _, consumed = async_to_sync(exchange)(WHOAMI_URL, len(big), [big])

    assert status == 401  # Django read the body and the view answered
    assert consumed == 1


# A real uvicorn -------------------------------------------------------------------


@pytest.fixture
def uvicorn_server(tmp_path: Path) -> Iterator[int]:
    port = free_port()
    env = example_env(tmp_path / "db.sqlite3", DJANGO_DEBUG="0")
    log = (tmp_path / "uvicorn.log").open("wb")
    process = subprocess.Popen(
        [
            str(UVICORN),
            "--app-dir",
            str(EXAMPLE_DIR),
            "--port",
            str(port),
            "--workers",
            "2",
            "example_project.asgi:application",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail((tmp_path / "uvicorn.log").read_text())
                time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=15)
        log.close()


@pytest.mark.e2e
def test_body_limit_under_uvicorn_answers_before_the_body_is_sent(uvicorn_server: int) -> None:
    with socket.create_connection(("127.0.0.1", uvicorn_server), timeout=10) as connection:
        connection.sendall(
            b"POST /api/auth/token/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\n" + f"Content-Length: {FIFTY_MB}\r\n\r\n".encode()
        )
        # Not a byte of the 50 MB follows: only a refusal before reading can answer.
        answer = b""
        while chunk := connection.recv(4096):  # until uvicorn closes the connection
            answer += chunk

    assert answer.startswith(b"HTTP/1.1 400 ")
    assert b'"code": "parse_error"' in answer


def test_example_conn_max_age_zero_under_asgi_only(tmp_path: Path) -> None:
    probe = (
        "import importlib, sys; importlib.import_module(sys.argv[1]); "
        "from django.conf import settings; print(settings.DATABASES['default']['CONN_MAX_AGE'])"
    )
    env = example_env(tmp_path / "db.sqlite3")
    ages = {
        module: subprocess.run(
            [sys.executable, "-c", probe, module],
            cwd=EXAMPLE_DIR,
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout.strip()
        for module in ("example_project.asgi", "example_project.wsgi")
    }

    assert ages == {"example_project.asgi": "0", "example_project.wsgi": "60"}
