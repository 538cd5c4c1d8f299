"""Revocation across real server processes (SPEC section 6).

Two gunicorn servers of the example project, two sync workers each, share a
PostgreSQL database and a Redis cache. Every worker first serves the session
(so each has seen it active); a logout on one server must then be refused by
every worker of the other on its very next request, and stay refused when
the cache loses its contents (the database is the source of truth). The
same holds for an API token revoked through ``DELETE api-tokens/<id>/``.

Each test runs twice: with a cache round trip per request (the default) and
with the revocation lease, where every worker answers the warmed session
from its own memory and only the announcement can stop it.
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
    on_every_worker,
    running_servers,
)

pytestmark = [pytest.mark.e2e, pytest.mark.services]


#: The example project's variable for TOKENKIT["REVOCATION_LEASE"], in milliseconds.
LEASE_MS = "50"


@pytest.fixture(scope="module", params=["round-trip", "lease"])
def servers(
    request: pytest.FixtureRequest,
    e2e_services: SharedServices,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[list[Server]]:
    extra = {"TOKENKIT_REVOCATION_LEASE_MS": LEASE_MS} if request.param == "lease" else {}
    with running_servers(
        e2e_services.env(**extra), tmp_path_factory.mktemp("revocation"), count=2, workers=2
    ) as started:
        yield started


def warm(servers: list[Server], access: str) -> None:
    """Have every worker of every server accept ``access`` at least once."""
    for server in servers:
        responses = on_every_worker(server, access)
        assert {response.status_code for response in responses} == {200}


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
    servers: list[Server],
) -> None:
    first, second = servers
    pair = first.login("demo", "demo-password")
    bystander = second.login("demo", "demo-password")
    warm(servers, pair["access"])

    logout(first, pair)
    very_next = second.me(pair["access"])

    assert very_next.status_code == 401, very_next.text
    assert very_next.json()["code"] == "token_revoked"
    assert_revoked_everywhere(servers, pair)
    # Only that session ended: the same user's other session still works everywhere.
    warm(servers, bystander["access"])


def test_revocation_survives_losing_the_cache_on_both_servers(
    servers: list[Server], e2e_services: SharedServices
) -> None:
    first, second = servers
    pair = second.login("demo", "demo-password")
    bystander = first.login("demo", "demo-password")
    warm(servers, pair["access"])
    warm(servers, bystander["access"])
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
