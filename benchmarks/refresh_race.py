"""Measurement 3: K simultaneous refreshes with one refresh token.

This is what a single-page app open in several tabs does when its access
token runs out: every tab refreshes at once, with the same refresh token.
For each K, each round logs a fresh user in, opens K connections to a
multi-worker server, and releases the K ``POST``s of that one refresh token
together (a barrier, then each thread sends). It then counts:

- the responses: 200s, 401s and anything else;
- the distinct new access and refresh tokens handed out;
- the refresh tokens still live afterwards, read from the package's own
  tables (the one-time token should have become exactly one successor);
- the clients that can continue: each client that got a 200 refreshes once
  more with the refresh token its response gave it, one after another, as
  the tabs would when the new access token runs out in turn.

knox has no refresh token and is not part of this measurement.
"""

from __future__ import annotations

import http.client
import json
import statistics
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from benchmarks.contenders import Contender
from benchmarks.environment import Server


@dataclass
class RaceRound:
    ok: int = 0
    unauthorized: int = 0
    other: int = 0
    distinct_access: int = 0
    distinct_refresh: int = 0
    live_refresh_tokens: int = 0
    continued: int = 0
    other_statuses: list[str] = field(default_factory=list)
    #: the error ``code`` of each 401 body (both packages send one)
    unauthorized_codes: list[str] = field(default_factory=list)


@dataclass
class RaceResult:
    contender: Contender
    k: int
    rounds: list[RaceRound] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return self.k * len(self.rounds)

    def total(self, name: str) -> int:
        return sum(getattr(round_, name) for round_ in self.rounds)

    def median(self, name: str) -> float:
        return statistics.median(getattr(round_, name) for round_ in self.rounds)

    def most(self, name: str) -> int:
        return max(getattr(round_, name) for round_ in self.rounds)


def _post_refresh(connection: http.client.HTTPConnection, path: str, token: str) -> tuple[int, Any]:
    body = json.dumps({"refresh": token})
    connection.request("POST", path, body=body, headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    raw = response.read()
    try:
        data = json.loads(raw)
    except ValueError:
        data = None
    return response.status, data


def fire(server: Server, path: str, token: str, k: int) -> list[tuple[int, Any]]:
    """Send ``k`` refreshes of ``token`` at once; return (status, body) per client."""
    connections = [
        http.client.HTTPConnection("127.0.0.1", server.port, timeout=60) for _ in range(k)
    ]
    for connection in connections:
        connection.connect()
    barrier = threading.Barrier(k)
    outcomes: list[tuple[int, Any]] = [(0, None)] * k

    def client(index: int) -> None:
        barrier.wait()
        try:
            outcomes[index] = _post_refresh(connections[index], path, token)
        except (OSError, http.client.HTTPException) as error:
            outcomes[index] = (0, {"error": type(error).__name__})

    threads = [threading.Thread(target=client, args=(index,)) for index in range(k)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for connection in connections:
        connection.close()
    return outcomes


def _login(contender: Contender, user: Any) -> str:
    """A fresh refresh token for ``user``, as the package's login view issues it."""
    if contender.issuer == "tokenkit":
        from django_tokenkit import services

        return services.login(user).refresh
    from rest_framework_simplejwt.tokens import RefreshToken

    return str(RefreshToken.for_user(user))


def _live_refresh_tokens(contender: Contender, user: Any) -> int:
    """Refresh tokens of ``user`` that a refresh would still accept as a first use."""
    from django.utils import timezone

    now = timezone.now()
    if contender.issuer == "tokenkit":
        from django_tokenkit.models import IssuedToken, TokenType

        return IssuedToken.objects.filter(
            session__user=user,
            session__revoked_at__isnull=True,
            token_type=TokenType.REFRESH,
            rotated_at__isnull=True,
            revoked_at__isnull=True,
            expires_at__gt=now,
        ).count()
    from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

    return OutstandingToken.objects.filter(
        user=user, blacklistedtoken__isnull=True, expires_at__gt=now
    ).count()


def race_once(contender: Contender, server: Server, user: Any, k: int) -> RaceRound:
    assert contender.refresh_path is not None
    token = _login(contender, user)
    outcomes = fire(server, contender.refresh_path, token, k)
    result = RaceRound()
    access_tokens: set[str] = set()
    refresh_tokens: list[str | None] = []
    for status, data in outcomes:
        if status == 200 and isinstance(data, dict):
            result.ok += 1
            access_tokens.add(str(data.get("access")))
            refresh_tokens.append(data.get("refresh"))
        elif status == 401:
            result.unauthorized += 1
            code = data.get("code") if isinstance(data, dict) else None
            result.unauthorized_codes.append(str(code))
        else:
            result.other += 1
            result.other_statuses.append(str(status or data))
    result.distinct_access = len(access_tokens)
    result.distinct_refresh = len({token for token in refresh_tokens if token})
    result.live_refresh_tokens = _live_refresh_tokens(contender, user)
    # Each client that got a pair carries on with the refresh token it was given.
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    for refresh_token in refresh_tokens:
        if refresh_token is None:
            continue
        status, _ = _post_refresh(connection, contender.refresh_path, refresh_token)
        if status == 200:
            result.continued += 1
    connection.close()
    return result


def measure(
    contender: Contender,
    server: Server,
    ks: tuple[int, ...],
    *,
    rounds: int,
    new_user: Callable[[str], Any],
    progress: Callable[[str], None] = print,
) -> list[RaceResult]:
    results = []
    for k in ks:
        result = RaceResult(contender=contender, k=k)
        for round_number in range(rounds):
            user = new_user(f"race-{contender.name}-{k}-{round_number}")
            result.rounds.append(race_once(contender, server, user, k))
        results.append(result)
        progress(
            f"  refresh race {contender.name} K={k}: "
            f"{result.total('ok')} x 200, {result.total('unauthorized')} x 401, "
            f"{result.total('other')} other; "
            f"live refresh tokens {result.most('live_refresh_tokens')}; "
            f"continued {result.total('continued')}/{result.requests}"
        )
    return results
