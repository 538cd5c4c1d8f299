"""Helpers for the client's tests: servers with short lifetimes and their access logs.

The client is tested against the example project in real gunicorn processes
(:mod:`tests.e2e`): the refresh calls a test asserts on are counted from
gunicorn's access log, that is, from what the server actually received.
"""

from __future__ import annotations

import json
import re
import secrets
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.e2e import Server

#: Access-token lifetime of the test servers, in seconds: several windows fit in a test.
LIFETIME = 4
#: Of which the client counts on (``expires_in`` truncation, see records.NUMERIC_DATE_SLACK).
USABLE = LIFETIME - 1
#: The client refreshes in the background after this much of a token's life.
EARLY_AFTER = USABLE * 0.75
GRACE = 1
DEMO = ("demo", "demo-password")

REFRESH_PATH = "/api/auth/token/refresh/"
LOGIN_PATH = "/api/auth/token/"

# tests.e2e.ACCESS_LOG_FORMAT: "<pid> GET /path?query HTTP/1.1 200".
_LINE = re.compile(r"^<(\d+)> (\S+) (\S+) \S+ (\d{3})$")


def short_lifetimes(**overrides: str) -> dict[str, str]:
    """The example project's variables for the client tests; ``overrides`` on top."""
    return {
        "TOKENKIT_ACCESS_TOKEN_LIFETIME": str(LIFETIME),
        "TOKENKIT_SLIDING_THRESHOLD": "0",
        "TOKENKIT_LEEWAY": "0",
        "TOKENKIT_REFRESH_GRACE_PERIOD": str(GRACE),
        "TOKENKIT_LOGIN_RATE": "10000/min",
        **overrides,
    }


@dataclass(frozen=True)
class Hit:
    """One line of a server's access log."""

    pid: int
    method: str
    path: str
    status: int


def _server_hits(server: Server) -> list[Hit]:
    found = []
    for line in server.access_log.read_text(errors="replace").splitlines():
        match = _LINE.match(line.strip())
        if match:
            pid, method, target, status = match.groups()
            found.append(Hit(int(pid), method, target.partition("?")[0], int(status)))
    return found


def _settle(servers: Sequence[Server], deadline: float = 5.0) -> list[list[Hit]]:
    """Each server's hits, once it has logged all it answered.

    Gunicorn writes a line just after sending the response, so a probe is
    sent to each server and waited for, then the logs are read until they
    stop growing.
    """
    for server in servers:
        probe = secrets.token_hex(8)
        server.get("/", "-", probe)
        server.served_by([probe], deadline)
    current = [_server_hits(server) for server in servers]
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        time.sleep(0.1)
        again = [_server_hits(server) for server in servers]
        if [len(h) for h in again] == [len(h) for h in current]:
            break
        current = again
    return current


def log_mark(servers: Sequence[Server]) -> list[int]:
    """Where each server's access log ends now; pass it to :func:`hits_since`."""
    return [len(found) for found in _settle(servers)]


def hits_since(servers: Sequence[Server], mark: Sequence[int]) -> list[Hit]:
    """The requests the servers logged after ``mark`` (all of them, settled)."""
    settled = _settle(servers)
    return [hit for found, start in zip(settled, mark, strict=True) for hit in found[start:]]


def unsettled_mark(servers: Sequence[Server]) -> list[int]:
    """:func:`log_mark` without waiting: for a mark taken while traffic flows."""
    return [len(_server_hits(server)) for server in servers]


def refreshes(found: Iterable[Hit]) -> list[Hit]:
    """The refresh calls among ``found``."""
    return [hit for hit in found if hit.path == REFRESH_PATH]


def logins(found: Iterable[Hit]) -> list[Hit]:
    """The login calls among ``found``."""
    return [hit for hit in found if hit.path == LOGIN_PATH]


def sqlite_refresh_rows(database: Path, sid: str) -> int:
    """How many refresh tokens session ``sid`` has on record (SQLite stores uuids as hex)."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
        (count,) = connection.execute(
            "SELECT COUNT(*) FROM tokenkit_issuedtoken WHERE session_id = ?",
            [sid.replace("-", "")],
        ).fetchone()
    return int(count)


# --- a reverse proxy that fails on demand ---------------------------------------


@dataclass
class _Fault:
    path: str
    status: int  # 0: drop the connection without answering
    times: int
    headers: dict[str, str]
    code: str


class FaultyProxy:
    """A real HTTP reverse proxy in front of a server, failing chosen requests.

    ``fail("/api/auth/token/refresh/", 503, times=2)`` answers the next two
    requests to that path with a 503 without forwarding them; status 0
    closes the connection instead (a network error for the client). Every
    other request is forwarded to ``target`` as it came, and the answer
    returned as it went.
    """

    def __init__(self, target: str) -> None:
        import http.server
        import threading

        self.target = target
        self.faults: list[_Fault] = []
        self.served_faults: list[tuple[str, int]] = []
        self._lock = threading.Lock()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:  # quiet
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                fault = proxy._take_fault(self.path)
                if fault is not None and fault.status == 0:
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                if fault is not None:
                    payload = json.dumps({"detail": "injected fault", "code": fault.code}).encode()
                    self.send_response(fault.status)
                    for name, value in fault.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                status, headers, content = proxy._forward(
                    self.command, self.path, dict(self.headers.items()), body
                )
                self.send_response(status)
                for name, value in headers:
                    if name.lower() not in {"transfer-encoding", "connection", "content-length"}:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = do_DELETE = _handle

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def url(self, path: str) -> str:
        return self.base_url + path

    def fail(
        self,
        path: str,
        status: int,
        *,
        times: int,
        headers: dict[str, str] | None = None,
        code: str = "service_unavailable",
    ) -> None:
        with self._lock:
            self.faults.append(_Fault(path, status, times, headers or {}, code))

    def clear(self) -> None:
        with self._lock:
            self.faults.clear()

    def _take_fault(self, path: str) -> _Fault | None:
        with self._lock:
            for fault in self.faults:
                if path.startswith(fault.path) and fault.times > 0:
                    fault.times -= 1
                    self.served_faults.append((fault.path, fault.status))
                    return fault
        return None

    def _forward(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        import http.client
        from urllib.parse import urlsplit

        target = urlsplit(self.target)
        assert target.hostname is not None
        connection = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
        try:
            headers = {k: v for k, v in headers.items() if k.lower() not in {"host", "connection"}}
            connection.request(method, path, body=body or None, headers=headers)
            answer = connection.getresponse()
            return answer.status, answer.getheaders(), answer.read()
        finally:
            connection.close()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class SteppedClock:
    """A client clock that stands still until moved (``clock.now += 10``)."""

    def __init__(self, now: float | None = None) -> None:
        self.now = time.time() if now is None else now

    def __call__(self) -> float:
        return self.now
