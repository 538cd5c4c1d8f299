"""The revocation outbox: a revocation the cache missed is still refused.

tokenkit's cache here is a private ``redis-server`` reached through a
:class:`~tests.faults.TcpProxy`. Cutting the proxy is a network partition:
the server keeps its contents, so when the link comes back the cache still
says "active" for a session revoked meanwhile. These tests prove the outbox
closes that hole in one process; ``test_e2e_partition.py`` proves it across
real server processes.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.core.cache import caches
from rest_framework.test import APIClient

from django_tokenkit import outbox, revocation, services, tokens, users
from django_tokenkit.models import PendingRevocation, RevokeReason, Session
from tests.faults import REDIS_SERVER, PrivateRedis, TcpProxy, free_port
from tests.helpers import login, whoami

pytestmark = pytest.mark.skipif(REDIS_SERVER is None, reason="needs the redis-server binary")

INTERVAL = 1.0


class Clock:
    """The outbox's clock, moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(outbox, "clock", fake)
    outbox.forget(read_at=fake.now)
    return fake


@pytest.fixture
def link(settings: Any, clock: Clock) -> Iterator[TcpProxy]:
    """tokenkit's cache behind a proxy the test can cut; nothing else uses it."""
    server = PrivateRedis(port=free_port())
    server.start()
    proxy = TcpProxy(server.port)
    proxy.start()
    settings.CACHES = {
        **settings.CACHES,
        "partitioned": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": proxy.url(),
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5},
        },
    }
    settings.TOKENKIT = {
        **settings.TOKENKIT,
        "CACHE_ALIAS": "partitioned",
        "REVOCATION_OUTBOX_INTERVAL": INTERVAL,
    }
    outbox.forget(read_at=clock.now)
    try:
        yield proxy
    finally:
        proxy.stop()
        server.stop()


def cached_state(sid: str) -> Any:
    return caches["partitioned"].get(revocation.session_key(sid))


def sid_of(pair: dict[str, Any]) -> str:
    return tokens.decode(pair["access"], "access").sid


def revoked_during_partition(
    link: TcpProxy, api_client: APIClient, capture: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Log two sessions in, cache both as active, cut the link, log one out."""
    ended, kept = login(api_client), login(APIClient())
    assert whoami(api_client, ended).status_code == 200
    assert whoami(api_client, kept).status_code == 200
    assert cached_state(sid_of(ended)) == revocation.ACTIVE

    link.cut()
    with capture(execute=True):
        response = api_client.post(
            "/api/auth/logout/", {"refresh": ended["refresh"]}, format="json"
        )
    assert response.status_code == 204
    return ended, kept


def test_outbox_revocation_during_partition_is_refused_when_the_partition_heals(
    link: TcpProxy, api_client: APIClient, user: Any, django_capture_on_commit_callbacks: Any
) -> None:
    ended, kept = revoked_during_partition(link, api_client, django_capture_on_commit_callbacks)
    assert whoami(api_client, ended).json()["code"] == "token_revoked"  # from the database
    assert PendingRevocation.objects.filter(identifier=sid_of(ended)).exists()

    link.restore()
    # The cache is back with what it held before: "active" for the ended session.
    assert cached_state(sid_of(ended)) == revocation.ACTIVE
    # No time passes: this process saw the cache fail, so it reads the outbox first.
    response = whoami(api_client, ended)

    assert response.status_code == 401
    assert response.json()["code"] == "token_revoked"
    assert cached_state(sid_of(ended)) == revocation.REVOKED  # published on the way
    assert not PendingRevocation.objects.exists()
    assert whoami(api_client, kept).status_code == 200


def test_outbox_process_that_never_saw_the_cache_fail_refuses_within_one_interval(
    link: TcpProxy,
    api_client: APIClient,
    user: Any,
    clock: Clock,
    django_capture_on_commit_callbacks: Any,
) -> None:
    ended, _ = revoked_during_partition(link, api_client, django_capture_on_commit_callbacks)
    link.restore()
    # Another process: it read the empty outbox just before the revocation and
    # never saw the cache fail.
    outbox.forget(read_at=clock.now)

    clock.advance(INTERVAL)
    response = whoami(api_client, ended)

    assert response.status_code == 401
    assert response.json()["code"] == "token_revoked"
    assert cached_state(sid_of(ended)) == revocation.REVOKED
    assert not PendingRevocation.objects.exists()


def test_outbox_crash_between_commit_and_publish_is_refused_then_published(
    user: Any, api_client: APIClient, clock: Clock, django_capture_on_commit_callbacks: Any
) -> None:
    pair = login(api_client)
    assert whoami(api_client, pair).status_code == 200  # cached as active
    session = Session.objects.get()
    # The process died between commit and publish: the on-commit publish never ran.
    with django_capture_on_commit_callbacks(execute=False):
        services.revoke_sessions([session], RevokeReason.ADMIN)
    assert caches["default"].get(revocation.session_key(session.sid)) == revocation.ACTIVE

    clock.advance(INTERVAL)
    response = whoami(api_client, pair)

    assert response.json()["code"] == "token_revoked"
    assert caches["default"].get(revocation.session_key(session.sid)) == revocation.REVOKED
    assert not PendingRevocation.objects.exists()


def test_outbox_single_token_revocation_missed_by_the_cache_is_refused(
    user: Any, api_client: APIClient, clock: Clock, django_capture_on_commit_callbacks: Any
) -> None:
    pair = login(api_client)
    assert whoami(api_client, pair).status_code == 200
    token = tokens.decode(pair["access"], "access")
    with django_capture_on_commit_callbacks(execute=False):
        assert services.revoke_token(token, RevokeReason.ADMIN) is True
    row = PendingRevocation.objects.get()
    assert (row.kind, row.identifier, row.sid) == ("token", token.jti, token.sid)

    clock.advance(INTERVAL)

    assert whoami(api_client, pair).json()["code"] == "token_revoked"
    assert caches["default"].get(revocation.token_key(token.jti)) == revocation.REVOKED


def test_outbox_is_empty_after_a_revocation_the_cache_received(
    user: Any, api_client: APIClient, django_capture_on_commit_callbacks: Any
) -> None:
    pair = login(api_client)
    with django_capture_on_commit_callbacks(execute=True):
        api_client.post("/api/auth/logout/", {"refresh": pair["refresh"]}, format="json")

    assert not PendingRevocation.objects.exists()
    assert whoami(api_client, pair).json()["code"] == "token_revoked"


def test_outbox_steady_state_reads_it_once_per_interval_and_no_more(
    user: Any,
    api_client: APIClient,
    clock: Clock,
    django_assert_num_queries: Any,
) -> None:
    pair = login(api_client)
    # Login's last_login write leaves a short tombstone for the user's cached
    # copy (a known cliff, issue 16); drop it so the copy can be cached.
    caches["default"].delete(users.user_key(user.pk))
    assert whoami(api_client, pair).status_code == 200  # session and user now cached

    with django_assert_num_queries(0):
        for _ in range(5):
            assert whoami(api_client, pair).status_code == 200
    clock.advance(INTERVAL)
    # The outbox, found empty; then the request that read it asks the database
    # for the session's state (the session row and its revoked token ids)
    # instead of the cache answer it fetched before the read.
    with django_assert_num_queries(3):
        for _ in range(5):
            assert whoami(api_client, pair).status_code == 200


def test_outbox_with_more_rows_than_it_reads_distrusts_cached_active_states(
    user: Any,
    api_client: APIClient,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    monkeypatch.setattr(outbox, "MAX_ROWS", 2)
    pair = login(api_client)
    others = [login(APIClient()) for _ in range(4)]
    for each in [pair, *others]:
        assert whoami(api_client, each).status_code == 200  # all cached as active
    sessions = list(Session.objects.exclude(pk=sid_of(pair)))
    with django_capture_on_commit_callbacks(execute=False):
        services.revoke_sessions(sessions, RevokeReason.ADMIN)
    # A read holds MAX_ROWS + 1 rows: the newest is beyond it, and its session
    # is still "active" in the cache.
    beyond = PendingRevocation.objects.order_by("-id").first()
    assert beyond is not None
    assert caches["default"].get(revocation.session_key(beyond.identifier)) == "a"
    ending = next(other for other in others if sid_of(other) == beyond.identifier)

    clock.advance(INTERVAL)

    # The cache's "active" is no longer believed: the database is asked.
    assert whoami(api_client, ending).json()["code"] == "token_revoked"
    for other in others:
        assert whoami(api_client, other).json()["code"] == "token_revoked"
    assert whoami(api_client, pair).status_code == 200


def test_outbox_rows_past_their_expiry_are_flushed(user: Any, api_client: APIClient) -> None:
    login(api_client)
    session = Session.objects.get()
    PendingRevocation.objects.create(
        kind="session", identifier=session.sid, expires_at=session.created_at
    )
    PendingRevocation.objects.create(
        kind="session", identifier="live", expires_at=session.expires_at
    )

    progress = list(services.flush_expired(now=session.created_at + timedelta(minutes=1)))

    assert [p.kind for p in progress if p.kind == "pending revocations"] == ["pending revocations"]
    assert list(PendingRevocation.objects.values_list("identifier", flat=True)) == ["live"]


def test_outbox_cache_answer_fetched_before_another_process_published_is_not_trusted(
    user: Any, api_client: APIClient, clock: Clock, django_capture_on_commit_callbacks: Any
) -> None:
    pair = login(api_client)
    assert whoami(api_client, pair).status_code == 200  # cached as active
    token = tokens.decode(pair["access"], tokens.ACCESS)
    session = Session.objects.get()
    with django_capture_on_commit_callbacks(execute=False):  # its publish failed
        services.revoke_sessions([session], RevokeReason.ADMIN)
    clock.advance(INTERVAL)
    # This process fetches the stale "active", then, before it reads the
    # outbox, another process publishes the revocation and clears the outbox.
    found = revocation.fetch(revocation.lookup_keys(token))
    assert found is not None
    assert found[revocation.session_key(token.sid)] == revocation.ACTIVE
    assert revocation.publish(list(PendingRevocation.objects.all())) is True
    assert not PendingRevocation.objects.exists()

    assert revocation.unrevoked_session_state(token, found) is None
