"""Revocation through a network partition between the servers and Redis (SPEC section 6).

Two gunicorn servers of the example project, two sync workers each, share a
PostgreSQL database and one Redis; each reaches Redis through a TCP proxy of
its own (:class:`tests.faults.TcpProxy`) that the test cuts and restores.
Redis keeps its contents throughout, as it does in a real partition, so when
the link heals it still says "active" for every session revoked meanwhile.

For each revocation source, the session is revoked while the link is cut;
once it heals, every worker of both servers must refuse the session's token
on its very next request, with the example project's defaults (the
revocation lease on, tokenkit's cache being Redis) and with the lease off
(``TOKENKIT_REVOCATION_LEASE_MS=0``). A server
that never lost its link must refuse it within one outbox interval. The same
holds for an API token revoked, rotated away or whose user is deactivated
while the link is cut.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from tests.e2e import (
    E2E_REDIS_DB,
    HTTP_TIMEOUT,
    Server,
    SharedServices,
    bearer,
    expect_lease_subscriptions,
    manage,
    on_every_worker,
    running_servers,
    service_urls,
    unverified_claims,
)
from tests.faults import TcpProxy

pytestmark = [pytest.mark.e2e, pytest.mark.services]

PASSWORD = "partition-password"
#: The example project's default REVOCATION_OUTBOX_INTERVAL is one second.
OUTBOX_INTERVAL = 1.0


class Cluster:
    """Two servers, each reaching Redis through its own proxy."""

    def __init__(
        self,
        servers: list[Server],
        links: list[TcpProxy],
        services: SharedServices,
        lease_mode: str,
    ) -> None:
        self.servers = servers
        self.links = links
        self.services = services
        self.lease_mode = lease_mode

    def expect_lease_as_configured(self) -> None:
        """Each warmed worker holds the lease's subscription by default, none with it off."""
        workers = sum(server.workers for server in self.servers)
        expected = 0 if self.lease_mode == "lease-off" else workers
        expect_lease_subscriptions(self.services.redis_url, expected)

    def cut(self, *indexes: int) -> None:
        for index in indexes or range(len(self.links)):
            self.links[index].cut()

    def restore(self) -> None:
        for link in self.links:
            if link.is_cut:
                link.restore()

    def unpublished(self) -> int:
        rows = self.services.query("SELECT count(*) FROM tokenkit_pendingrevocation")
        return int(rows[0][0])


#: Each configuration the servers run, as the example project's environment.
#: "default" sets nothing: the lease is on, tokenkit's cache being Redis.
LEASE_MODES = {"default": {}, "lease-off": {"TOKENKIT_REVOCATION_LEASE_MS": "0"}}


@pytest.fixture(scope="module", params=list(LEASE_MODES))
def cluster(
    request: pytest.FixtureRequest,
    e2e_services: SharedServices,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Cluster]:
    _, redis_url = service_urls()
    upstream = urlsplit(redis_url)
    links = [TcpProxy(upstream.port or 6379, upstream.hostname or "127.0.0.1") for _ in "ab"]
    for link in links:
        link.start()
    per_server = [{"REDIS_URL": link.url(path=f"/{E2E_REDIS_DB}")} for link in links]
    try:
        with running_servers(
            e2e_services.env(**LEASE_MODES[request.param]),
            tmp_path_factory.mktemp("partition"),
            count=2,
            workers=2,
            per_server=per_server,
        ) as servers:
            yield Cluster(servers, links, e2e_services, request.param)
    finally:
        for link in links:
            link.stop()


@pytest.fixture
def account(cluster: Cluster) -> Iterator[str]:
    """A user of this test's own, so a password change ends nobody else's sessions."""
    username = f"p{secrets.token_hex(4)}"
    manage(
        cluster.services.env(),
        "shell",
        "-c",
        "from django.contrib.auth import get_user_model; "
        f"get_user_model().objects.create_user({username!r}, password={PASSWORD!r})",
    )
    yield username
    cluster.restore()


def expect_revoked(server: Server, access: str) -> None:
    responses = on_every_worker(server, access)
    assert {(r.status_code, r.json().get("code")) for r in responses} == {(401, "token_revoked")}


def expect_accepted(server: Server, access: str) -> None:
    responses = on_every_worker(server, access)
    assert {r.status_code for r in responses} == {200}


# --- the revocation sources, each done on the first server's side of the cut -------


def by_logout(cluster: Cluster, username: str, pair: dict[str, Any]) -> None:
    response = requests.post(
        cluster.servers[0].url("/api/auth/logout/"),
        json={"refresh": pair["refresh"]},
        timeout=HTTP_TIMEOUT,
    )
    assert response.status_code == 204, response.text


def by_logout_all(cluster: Cluster, username: str, pair: dict[str, Any]) -> None:
    response = requests.post(
        cluster.servers[0].url("/api/auth/logout/"),
        json={"all": True},
        headers=bearer(pair["access"]),
        timeout=HTTP_TIMEOUT,
    )
    assert response.status_code == 204, response.text


def by_session_delete(cluster: Cluster, username: str, pair: dict[str, Any]) -> None:
    sid = unverified_claims(pair["access"])["sid"]
    response = requests.delete(
        cluster.servers[0].url(f"/api/auth/sessions/{sid}/"),
        headers=bearer(pair["access"]),
        timeout=HTTP_TIMEOUT,
    )
    assert response.status_code == 204, response.text


def by_password_change(cluster: Cluster, username: str, pair: dict[str, Any]) -> None:
    # A process of its own (a shell, a deploy script), cut off like the first server.
    env = cluster.services.env(REDIS_URL=cluster.links[0].url(path=f"/{E2E_REDIS_DB}"))
    manage(
        env,
        "shell",
        "-c",
        "from django.contrib.auth import get_user_model; "
        f"user = get_user_model().objects.get(username={username!r}); "
        "user.set_password('a-new-password'); user.save()",
    )


def by_admin(cluster: Cluster, username: str, pair: dict[str, Any]) -> None:
    server = cluster.servers[0]
    browser = requests.Session()
    browser.get(server.url("/admin/login/"), timeout=HTTP_TIMEOUT)
    csrf = browser.cookies["csrftoken"]
    logged_in = browser.post(
        server.url("/admin/login/?next=/admin/"),
        data={"username": "admin", "password": "admin-password", "csrfmiddlewaretoken": csrf},
        headers={"Referer": server.url("/admin/login/")},
        timeout=HTTP_TIMEOUT,
    )
    assert logged_in.status_code == 200, logged_in.text
    assert "sessionid" in browser.cookies
    sid = unverified_claims(pair["access"])["sid"]
    page = server.url(f"/admin/tokenkit/session/{sid}/change/")
    response = browser.post(
        server.url(f"/admin/tokenkit/session/{sid}/revoke/"),
        data={"scope": "session", "csrfmiddlewaretoken": browser.cookies["csrftoken"]},
        headers={"Referer": page},
        timeout=HTTP_TIMEOUT,
    )
    assert response.status_code == 200, response.text  # followed back to the page
    revoked = cluster.services.query(
        "SELECT revoked_at IS NOT NULL FROM tokenkit_session WHERE id = %s", (sid,)
    )
    assert revoked == [(True,)]


SOURCES: dict[str, Callable[[Cluster, str, dict[str, Any]], None]] = {
    "logout": by_logout,
    "logout-all": by_logout_all,
    "session-delete": by_session_delete,
    "password-change": by_password_change,
    "admin": by_admin,
}


@pytest.mark.parametrize("source", list(SOURCES))
def test_partition_revocation_during_cut_refused_by_every_worker_once_healed(
    cluster: Cluster, account: str, source: str
) -> None:
    first, second = cluster.servers
    pair = first.login(account, PASSWORD)
    for server in cluster.servers:
        expect_accepted(server, pair["access"])  # every worker has seen it active
    cluster.expect_lease_as_configured()

    cluster.cut()
    SOURCES[source](cluster, account, pair)
    for server in cluster.servers:  # from the database while Redis is unreachable
        expect_revoked(server, pair["access"])
    assert cluster.unpublished() >= 1
    cluster.restore()

    # Redis still holds "active" for the session; no worker may believe it.
    for server in (second, first):
        expect_revoked(server, pair["access"])
    assert cluster.unpublished() == 0


def test_partition_of_one_server_its_revocation_reaches_the_other_within_an_interval(
    cluster: Cluster, account: str
) -> None:
    first, second = cluster.servers
    pair = second.login(account, PASSWORD)
    for server in cluster.servers:
        expect_accepted(server, pair["access"])

    cluster.cut(0)  # only the first server loses Redis; the second never notices
    by_logout(cluster, account, pair)
    started = time.monotonic()
    deadline = started + OUTBOX_INTERVAL + 5  # the interval, plus room for a busy machine
    while second.me(pair["access"]).status_code == 200:
        assert time.monotonic() < deadline, "the second server kept accepting the token"
        time.sleep(0.05)

    expect_revoked(second, pair["access"])
    assert cluster.unpublished() == 0  # the second server published it
    cluster.restore()
    expect_revoked(first, pair["access"])


# --- API tokens: revoked, rotated away or deactivated on the first server's side --------


def create_api_token(server: Server, access: str) -> dict[str, Any]:
    response = requests.post(
        server.url("/api/auth/api-tokens/"),
        json={"name": "nightly job", "expires_in": 3600},
        headers=bearer(access),
        timeout=HTTP_TIMEOUT,
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def api_token_delete(cluster: Cluster, username: str, access: str, token_id: str) -> None:
    response = requests.delete(
        cluster.servers[0].url(f"/api/auth/api-tokens/{token_id}/"),
        headers=bearer(access),
        timeout=HTTP_TIMEOUT,
    )
    assert response.status_code == 204, response.text


def api_token_rotate(cluster: Cluster, username: str, access: str, token_id: str) -> None:
    response = requests.post(
        cluster.servers[0].url(f"/api/auth/api-tokens/{token_id}/rotate/"),
        json={"grace_seconds": 0},
        headers=bearer(access),
        timeout=HTTP_TIMEOUT,
    )
    assert response.status_code == 201, response.text


def api_token_deactivation(cluster: Cluster, username: str, access: str, token_id: str) -> None:
    env = cluster.services.env(REDIS_URL=cluster.links[0].url(path=f"/{E2E_REDIS_DB}"))
    manage(
        env,
        "shell",
        "-c",
        "from django.contrib.auth import get_user_model; "
        f"user = get_user_model().objects.get(username={username!r}); "
        "user.is_active = False; user.save()",
    )


#: Each source, and the code the token gets once it has acted.
API_TOKEN_SOURCES: dict[str, tuple[Callable[[Cluster, str, str, str], None], str]] = {
    "delete": (api_token_delete, "token_revoked"),
    "rotate": (api_token_rotate, "token_expired"),
    "deactivation": (api_token_deactivation, "token_revoked"),
}


def expect_refused(server: Server, token: str, code: str) -> None:
    responses = on_every_worker(server, token)
    assert {(r.status_code, r.json().get("code")) for r in responses} == {(401, code)}


@pytest.mark.parametrize("source", list(API_TOKEN_SOURCES))
def test_partition_api_token_ended_during_cut_refused_by_every_worker_once_healed(
    cluster: Cluster, account: str, source: str
) -> None:
    first, second = cluster.servers
    access = first.login(account, PASSWORD)["access"]
    token = create_api_token(first, access)
    for server in cluster.servers:
        expect_accepted(server, token["token"])  # every worker has seen it active
    end, code = API_TOKEN_SOURCES[source]

    cluster.cut()
    end(cluster, account, access, token["id"])
    for server in cluster.servers:  # from the database while Redis is unreachable
        expect_refused(server, token["token"], code)
    assert cluster.unpublished() >= 1
    cluster.restore()

    # Redis still holds "active" for the token; no worker may believe it.
    for server in (second, first):
        expect_refused(server, token["token"], code)
    assert cluster.unpublished() == 0
