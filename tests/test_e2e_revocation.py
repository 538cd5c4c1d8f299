"""Revocation across real server processes (SPEC section 6).

Two gunicorn servers of the example project, two sync workers each, share a
PostgreSQL database and a Redis cache. Every worker first serves the session
(so each has seen it active); a logout on one server must then be refused by
every worker of the other on its very next request, and stay refused when
the cache loses its contents (the database is the source of truth). The
same holds for an API token revoked through ``DELETE api-tokens/<id>/``.

Each test runs twice: with the example project's defaults, where the
revocation lease is on (tokenkit's cache is Redis) and every worker answers
the warmed session from its own memory, so only the announcement can stop
it; and with the lease turned off (``TOKENKIT_REVOCATION_LEASE_MS=0``), a
cache round trip per request. ``tests/test_e2e_lease_default.py`` shows
the warmed workers answering from memory, under each kind of worker.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.e2e import (
    HTTP_TIMEOUT,
    Server,
    SharedServices,
    bearer,
    expect_lease_subscriptions,
    on_every_worker,
    running_servers,
)

pytestmark = [pytest.mark.e2e, pytest.mark.services]


#: Each configuration the servers run, as the example project's environment.
#: "default" sets nothing: the lease is on, tokenkit's cache being Redis.
LEASE_MODES = {"default": {}, "lease-off": {"TOKENKIT_REVOCATION_LEASE_MS": "0"}}
SERVERS, WORKERS = 2, 2


@pytest.fixture(scope="module", params=list(LEASE_MODES))
def lease_mode(request: pytest.FixtureRequest) -> str:
    mode: str = request.param
    return mode


@pytest.fixture(scope="module")
def servers(
    lease_mode: str,
    e2e_services: SharedServices,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[list[Server]]:
    with running_servers(
        e2e_services.env(**LEASE_MODES[lease_mode]),
        tmp_path_factory.mktemp("revocation"),
        count=SERVERS,
        workers=WORKERS,
    ) as started:
        yield started


def warm(servers: list[Server], access: str) -> None:
    """Have every worker of every server accept ``access`` at least once."""
    for server in servers:
        responses = on_every_worker(server, access)
        assert {response.status_code for response in responses} == {200}


def assert_lease_as_configured(services: SharedServices, lease_mode: str) -> None:
    """Every warmed worker holds the lease's subscription by default, none with it off."""
    expected = 0 if lease_mode == "lease-off" else SERVERS * WORKERS
    expect_lease_subscriptions(services.redis_url, expected)


def logout(server: Server, pair: dict[str, Any]) -> None:
    response = requests.post(
        server.url("/api/auth/logout/"),
        json={"refresh": pair["refresh"]},
        headers=bearer(pair["access"]),
        timeout=HTTP_TIMEOUT,
    )
    assert response.status_code == 204, response.text


def assert_revoked_everywhere(servers: list[Server], pair: dict[str, Any]) -> None:
    """Every worker of every server refuses the pair with ``token_revoked``."""
    for server in servers:
        responses = on_every_worker(server, pair["access"])
        assert {(r.status_code, r.json().get("code")) for r in responses} == {
            (401, "token_revoked")
        }
        refresh = requests.post(
            server.url("/api/auth/token/refresh/"),
            json={"refresh": pair["refresh"]},
            timeout=HTTP_TIMEOUT,
        )
        assert refresh.status_code == 401, refresh.text
        assert refresh.json()["code"] == "token_revoked"


def test_revocation_logout_on_one_server_refused_by_the_other_on_next_request(
    servers: list[Server], e2e_services: SharedServices, lease_mode: str
) -> None:
    first, second = servers
    pair = first.login("demo", "demo-password")
    bystander = second.login("demo", "demo-password")
    warm(servers, pair["access"])
    assert_lease_as_configured(e2e_services, lease_mode)

    logout(first, pair)
    very_next = second.me(pair["access"])

    assert very_next.status_code == 401, very_next.text
    assert very_next.json()["code"] == "token_revoked"
    assert_revoked_everywhere(servers, pair)
    # Only that session ended: the same user's other session still works everywhere.
    warm(servers, bystander["access"])


def test_revocation_survives_losing_the_cache_on_both_servers(
    servers: list[Server], e2e_services: SharedServices, lease_mode: str
) -> None:
    first, second = servers
    pair = second.login("demo", "demo-password")
    bystander = first.login("demo", "demo-password")
    warm(servers, pair["access"])
    warm(servers, bystander["access"])
    assert_lease_as_configured(e2e_services, lease_mode)
    logout(second, pair)

    e2e_services.flush_redis()  # what a Redis restart does

    assert_revoked_everywhere(servers, pair)
    warm(servers, bystander["access"])


# --- API tokens -------------------------------------------------------------------------


def create_api_token(server: Server, access: str, name: str) -> dict[str, Any]:
    response = requests.post(
        server.url("/api/auth/api-tokens/"),
        json={"name": name, "expires_in": 3600},
        headers=bearer(access),
        timeout=HTTP_TIMEOUT,
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def revoke_api_token(server: Server, access: str, token_id: str) -> None:
    response = requests.delete(
        server.url(f"/api/auth/api-tokens/{token_id}/"),
        headers=bearer(access),
        timeout=HTTP_TIMEOUT,
    )
    assert response.status_code == 204, response.text


def assert_api_token_revoked_everywhere(servers: list[Server], token: str) -> None:
    for server in servers:
        responses = on_every_worker(server, token)
        assert {(r.status_code, r.json().get("code")) for r in responses} == {
            (401, "token_revoked")
        }


def test_revocation_api_token_revoked_on_one_server_refused_by_the_other_on_next_request(
    servers: list[Server],
) -> None:
    first, second = servers
    access = first.login("demo", "demo-password")["access"]
    job = create_api_token(first, access, "nightly job")
    bystander = create_api_token(second, access, "other job")
    warm(servers, job["token"])

    revoke_api_token(first, access, job["id"])
    very_next = second.me(job["token"])

    assert very_next.status_code == 401, very_next.text
    assert very_next.json()["code"] == "token_revoked"
    assert_api_token_revoked_everywhere(servers, job["token"])
    # Only that token: the user's other API token and session still work everywhere.
    warm(servers, bystander["token"])
    warm(servers, access)


def test_revocation_api_token_survives_losing_the_cache_on_both_servers(
    servers: list[Server], e2e_services: SharedServices
) -> None:
    first, second = servers
    access = second.login("demo", "demo-password")["access"]
    job = create_api_token(second, access, "nightly job")
    bystander = create_api_token(first, access, "other job")
    warm(servers, job["token"])
    warm(servers, bystander["token"])
    revoke_api_token(second, access, job["id"])

    e2e_services.flush_redis()  # what a Redis restart does

    assert_api_token_revoked_everywhere(servers, job["token"])
    warm(servers, bystander["token"])
