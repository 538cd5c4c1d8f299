"""The revocation lease: repeat requests from memory, revocations still at once.

Every test that needs Redis starts a private ``redis-server`` (the pattern
of ``tests/test_cache_outage.py``), so the file runs the same in both halves
of the suite and may stop, freeze (``SIGSTOP``) or restart its server.
Redis commands are counted by wrapping redis-py's ``execute_command`` in the
test's own thread: the lease's subscriber thread is not counted. The last
test forks the test process after its first request, as a server that forks
workers from a serving process would; it needs PostgreSQL, so that the child
reads the committed rows on a connection of its own.
``tests/test_e2e_lease_default.py`` runs the lease, on by default, in real servers.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from functools import partial
from types import SimpleNamespace
from typing import Any

import pytest
import redis
from django.contrib.auth.models import update_last_login
from django.db import connection, transaction
from rest_framework.test import APIClient

from django_tokenkit import lease, revocation, services, tokens, users
from django_tokenkit.cache import get_cache
from django_tokenkit.lease import LocalState
from django_tokenkit.models import APIToken, RevokeReason
from django_tokenkit.services import api_tokens
from tests.faults import REDIS_SERVER, PrivateRedis, free_port
from tests.helpers import assert_unauthorized, login, whoami
from tests.redis_backends import REDIS_BACKENDS, redis_cache_config

LOGOUT_URL = "/api/auth/logout/"
REFRESH_URL = "/api/auth/token/refresh/"
#: The lease under test, in seconds.
#: Longer than production's 50 ms: on a busy 2-core test machine the
#: subscriber thread can wait that long for the GIL, and a lapse in the middle
#: of a test would send a remembered session back to Redis.
LEASE = 0.2
#: The lease of the LocalState unit tests: exact in binary, so boundaries are exact.
UNIT_LEASE = 0.5
#: Bound on every wait for the subscriber thread.
DEADLINE = 5.0

needs_redis_server = pytest.mark.skipif(
    REDIS_SERVER is None, reason="needs the redis-server binary"
)


# --- helpers ------------------------------------------------------------------


def wait_for(condition: Callable[[], bool], what: str, timeout: float = DEADLINE) -> None:
    """Poll ``condition`` (a real thread against a real server) until true, bounded."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.005)


def current_state() -> LocalState:
    state = lease.local_state()
    assert state is not None
    return state


def valid_lease() -> LocalState:
    """This process's state, once its subscriber has had a ping answered."""
    state = current_state()
    wait_for(state.is_valid, "the lease to be confirmed")
    return state


def applied_since(state: LocalState, moment: float) -> bool:
    """Whether a ping sent after ``moment`` was answered.

    Take ``moment`` after a ``PUBLISH`` was answered: the message then came
    before that ping on the subscription, so it has been applied.
    """
    return state.is_valid(now=moment + state.lease_seconds)


def session_keys(access: str, user: Any) -> list[str]:
    """The keys authentication resolves for ``access``: session, token, user."""
    token = tokens.decode(access, tokens.ACCESS)
    return [*revocation.lookup_keys(token), users.user_key(user.pk)]


class CommandLog:
    """Redis commands sent from the test's thread while :func:`redis_commands` is open."""

    def __init__(self) -> None:
        self.commands: list[str] = []


@contextmanager
def redis_commands() -> Iterator[CommandLog]:
    """Count Redis commands on the wire (instrumentation, as benchmarks/authenticate.py)."""
    log = CommandLog()
    thread = threading.get_ident()
    # redis-py leaves execute_command unannotated: say what the wrapper may assume.
    execute: Callable[..., Any] = redis.Redis.execute_command
    pipeline_execute = redis.client.Pipeline.execute

    def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
        if threading.get_ident() == thread:
            log.commands.append(str(args[0]))
        return execute(self, *args, **kwargs)

    def counted_pipeline(self: Any, *args: Any, **kwargs: Any) -> Any:
        if threading.get_ident() == thread:
            log.commands.append("PIPELINE")
        return pipeline_execute(self, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(redis.Redis, "execute_command", counted)
        patch.setattr(redis.client.Pipeline, "execute", counted_pipeline)
        yield log


@contextmanager
def listening(client: redis.Redis) -> Iterator[Any]:
    """A raw subscription to the announcement channel, confirmed before use."""
    listener = client.pubsub()  # type: ignore[no-untyped-call]  # redis-py leaves it unannotated
    listener.subscribe(lease.channel_name())
    try:
        confirmation = listener.get_message(timeout=2)
        assert confirmation is not None
        assert confirmation["type"] == "subscribe"
        yield listener
    finally:
        listener.close()


def remembered_whoami(client: APIClient, access: str) -> None:
    """Resolve ``access`` once through Redis, then see the next request need none.

    Tried a few times: should the lease lapse in between (a starved thread),
    the memory is emptied and the session must be resolved again.
    """
    with redis_commands() as first:
        assert whoami(client, access).status_code == 200
    assert first.commands, "the first request of a session must ask the shared cache"
    for _ in range(20):
        valid_lease()
        with redis_commands() as again:
            assert whoami(client, access).status_code == 200
        if not again.commands:
            return
    raise AssertionError(f"the session was never answered from memory: {again.commands}")


# --- fixtures -----------------------------------------------------------------


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis(port=free_port())
    server.start()
    try:
        yield server
    finally:
        if server.process is not None:
            server.process.send_signal(signal.SIGCONT)  # a frozen server cannot terminate
        server.stop()


@pytest.fixture(params=sorted(REDIS_BACKENDS))
def lease_backend(request: Any) -> str:
    """Each Redis backend the lease works through: django-redis and Django's RedisCache."""
    return REDIS_BACKENDS[request.param]


def use_private_lease_cache(
    settings: Any, server: PrivateRedis, backend: str, **pool_kwargs: Any
) -> None:
    """Point the "lease" cache at ``server`` and turn the lease on through it."""
    settings.CACHES = {
        **settings.CACHES,
        "lease": redis_cache_config(backend, server.url, timeout=0.2, **pool_kwargs),
    }
    settings.TOKENKIT = {**settings.TOKENKIT, "CACHE_ALIAS": "lease", "REVOCATION_LEASE": LEASE}


@pytest.fixture
def lease_on(
    private_redis: PrivateRedis, settings: Any, lease_backend: str
) -> Iterator[PrivateRedis]:
    """``REVOCATION_LEASE`` on, through a Redis cache (each backend) on the private server."""
    use_private_lease_cache(settings, private_redis, lease_backend)
    try:
        yield private_redis
    finally:
        lease.stop()


@pytest.fixture
def raw_redis(private_redis: PrivateRedis) -> Iterator[redis.Redis]:
    """A client of the test's own, outside tokenkit and django-redis."""
    client = redis.Redis.from_url(private_redis.url, socket_timeout=2)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def frozen(lease_on: PrivateRedis) -> Iterator[Callable[[], None]]:
    """Call to freeze the private server (``SIGSTOP``); it is thawed at teardown."""
    process = lease_on.process
    assert process is not None

    def freeze() -> None:
        process.send_signal(signal.SIGSTOP)

    try:
        yield freeze
    finally:
        process.send_signal(signal.SIGCONT)


class FakeTime:
    """Stands in for the ``time`` module inside :mod:`django_tokenkit.lease` only."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeTime:
    fake = FakeTime()
    monkeypatch.setattr(lease, "time", SimpleNamespace(monotonic=fake.monotonic, sleep=fake.sleep))
    return fake


# --- LocalState, no Redis -----------------------------------------------------


def test_local_state_begin_returns_none_without_a_confirmed_lease(clock: FakeTime) -> None:
    state = LocalState(UNIT_LEASE)
    assert state.begin() is None
    state.confirm(clock.now)
    assert state.begin() is not None
    clock.now += UNIT_LEASE  # the ping confirmed is now a full lease old
    assert state.begin() is None


def test_local_state_lookup_returns_stored_entries_while_the_lease_holds(
    clock: FakeTime,
) -> None:
    state = LocalState(UNIT_LEASE)
    state.confirm(clock.now)
    generation = state.begin()
    assert generation is not None
    assert state.store(generation, {"sid": "a", "jti": lease.ABSENT}) is True
    clock.now += UNIT_LEASE / 2
    assert state.lookup(["sid", "jti"]) == {"sid": "a", "jti": lease.ABSENT}
    assert state.lookup(["sid", "unknown"]) is None  # every key, or nothing


def test_local_state_lookup_returns_none_once_the_lease_lapsed(clock: FakeTime) -> None:
    state = LocalState(UNIT_LEASE)
    state.confirm(clock.now)
    generation = state.begin()
    assert generation is not None
    state.store(generation, {"sid": "a"})
    clock.now += UNIT_LEASE / 2
    assert state.lookup(["sid"]) == {"sid": "a"}
    clock.now += UNIT_LEASE / 2  # the ping confirmed is now a full lease old
    assert state.lookup(["sid"]) is None


def test_local_state_confirm_never_moves_the_lease_back(clock: FakeTime) -> None:
    state = LocalState(UNIT_LEASE)
    state.confirm(clock.now)
    state.confirm(clock.now - 10 * UNIT_LEASE)  # a late pong of an older ping
    assert state.is_valid(clock.now + UNIT_LEASE / 2) is True


def test_local_state_store_after_a_drop_since_begin_is_refused(clock: FakeTime) -> None:
    state = LocalState(UNIT_LEASE)
    state.confirm(clock.now)
    generation = state.begin()
    assert generation is not None
    state.drop(["some-other-key"])  # any announcement applied since begin()
    assert state.store(generation, {"sid": "a"}) is False
    assert state.lookup(["sid"]) is None
    fresh = state.begin()
    assert fresh is not None
    assert state.store(fresh, {"sid": "a"}) is True
    assert state.lookup(["sid"]) == {"sid": "a"}


def test_local_state_drop_forgets_only_the_announced_keys(clock: FakeTime) -> None:
    state = LocalState(UNIT_LEASE)
    state.confirm(clock.now)
    generation = state.begin()
    assert generation is not None
    state.store(generation, {"sid:1": "a", "sid:2": "a"})
    state.drop(["sid:1"])
    assert state.lookup(["sid:1"]) is None
    assert state.lookup(["sid:2"]) == {"sid:2": "a"}


def test_local_state_entry_expires_after_entry_timeout(clock: FakeTime) -> None:
    state = LocalState(UNIT_LEASE)
    state.confirm(clock.now)
    generation = state.begin()
    assert generation is not None
    state.store(generation, {"sid": "a"})
    expires = clock.now + lease.ENTRY_TIMEOUT
    while clock.now + UNIT_LEASE / 2 < expires:  # pings answered throughout
        clock.now += UNIT_LEASE / 2
        state.confirm(clock.now)
        assert state.lookup(["sid"]) == {"sid": "a"}
    clock.now = expires
    state.confirm(clock.now)
    assert state.lookup(["sid"]) is None


def test_local_state_reset_forgets_entries_and_lapses_the_lease(clock: FakeTime) -> None:
    state = LocalState(UNIT_LEASE)
    state.confirm(clock.now)
    generation = state.begin()
    assert generation is not None
    state.store(generation, {"sid": "a"})
    state.reset()
    assert state.is_valid() is False
    assert state.store(generation, {"other": "a"}) is False  # reset moves the generation
    state.confirm(clock.now)
    assert state.lookup(["sid"]) is None


def test_local_state_keeps_at_most_max_entries(
    clock: FakeTime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lease, "MAX_ENTRIES", 3)
    state = LocalState(UNIT_LEASE)
    state.confirm(clock.now)
    generation = state.begin()
    assert generation is not None
    state.store(generation, {"old:1": "a", "old:2": "a"})
    state.store(generation, {"new:1": "a", "new:2": "a"})
    assert state.lookup(["new:1", "new:2"]) == {"new:1": "a", "new:2": "a"}
    assert state.lookup(["old:1"]) is None  # the oldest went first


# --- announce -----------------------------------------------------------------


@needs_redis_server
def test_announce_publishes_the_keys_then_waits_the_lease(
    lease_on: PrivateRedis, raw_redis: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    waits: list[tuple[float, Any]] = []
    with listening(raw_redis) as listener:

        def sleep(seconds: float) -> None:
            # The message must already be out when the wait begins.
            waits.append((seconds, listener.get_message(timeout=2)))

        monkeypatch.setattr(lease, "time", SimpleNamespace(monotonic=time.monotonic, sleep=sleep))
        lease.announce({"tokenkit:sid:2", "tokenkit:sid:1"})

    assert len(waits) == 1
    seconds, message = waits[0]
    assert seconds == pytest.approx(LEASE)
    assert message is not None
    assert message["channel"] == lease.channel_name().encode()
    assert json.loads(message["data"]) == ["tokenkit:sid:1", "tokenkit:sid:2"]


@needs_redis_server
def test_announce_with_the_lease_off_neither_publishes_nor_sleeps(
    lease_on: PrivateRedis, raw_redis: redis.Redis, settings: Any, clock: FakeTime
) -> None:
    settings.TOKENKIT = {**settings.TOKENKIT, "REVOCATION_LEASE": None}
    with listening(raw_redis) as listener:
        lease.announce(["tokenkit:sid:1"])
        assert listener.get_message(timeout=0.2) is None
    assert clock.sleeps == []
    assert lease.local_state() is None


@needs_redis_server
def test_announce_of_no_keys_neither_publishes_nor_sleeps(
    lease_on: PrivateRedis, raw_redis: redis.Redis, clock: FakeTime
) -> None:
    with listening(raw_redis) as listener:
        lease.announce([])
        assert listener.get_message(timeout=0.2) is None
    assert clock.sleeps == []


@needs_redis_server
def test_announce_that_cannot_reach_redis_logs_and_does_not_wait(
    frozen: Callable[[], None], clock: FakeTime, caplog: pytest.LogCaptureFixture
) -> None:
    frozen()
    caplog.set_level(logging.ERROR, logger="django_tokenkit.lease")
    lease.announce(["tokenkit:sid:1"])  # times out after SOCKET_TIMEOUT
    assert clock.sleeps == []
    assert any("could not announce" in r.getMessage() for r in caplog.records)


@needs_redis_server
def test_user_row_change_is_announced_only_after_commit(
    lease_on: PrivateRedis,
    raw_redis: redis.Redis,
    user: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    with listening(raw_redis) as listener:
        with django_capture_on_commit_callbacks() as callbacks:
            user.first_name = "Alice"
            user.save()
            # Other processes still read the old row: nothing announced yet.
            assert listener.get_message(timeout=0.2) is None
        for callback in callbacks:
            callback()
        message = listener.get_message(timeout=2)
    assert message is not None
    assert json.loads(message["data"]) == [users.user_key(user.pk)]


def recording_sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Waits the lease module asks for, recorded instead of slept (real monotonic clock)."""
    sleeps: list[float] = []
    monkeypatch.setattr(
        lease, "time", SimpleNamespace(monotonic=time.monotonic, sleep=sleeps.append)
    )
    return sleeps


@needs_redis_server
def test_last_login_save_is_announced_without_waiting_the_lease(
    lease_on: PrivateRedis,
    raw_redis: redis.Redis,
    user: Any,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    sleeps = recording_sleeps(monkeypatch)
    with listening(raw_redis) as listener:
        with django_capture_on_commit_callbacks(execute=True):
            # What Django's login() does, and what a token_obtained receiver may do.
            update_last_login(type(user), user)
        message = listener.get_message(timeout=2)

    assert message is not None
    assert json.loads(message["data"]) == [users.user_key(user.pk)]
    assert sleeps == []


@needs_redis_server
@pytest.mark.parametrize(
    "update_fields", [None, ["first_name"], ["last_login", "is_staff"]], ids=str
)
def test_user_save_beyond_last_login_waits_the_lease(
    lease_on: PrivateRedis,
    user: Any,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
    update_fields: list[str] | None,
) -> None:
    sleeps = recording_sleeps(monkeypatch)
    with django_capture_on_commit_callbacks(execute=True):
        user.is_staff = True
        user.save(update_fields=update_fields)

    assert sleeps == [pytest.approx(LEASE)]


# --- requests answered from memory ------------------------------------------------


@needs_redis_server
def test_repeated_request_of_a_session_sends_no_redis_command(
    lease_on: PrivateRedis, api_client: APIClient, user: Any
) -> None:
    access = login(api_client)["access"]
    valid_lease()
    with redis_commands() as first:
        assert whoami(api_client, access).json()["username"] == "alice"
    assert "MGET" in first.commands
    for _ in range(3):
        with redis_commands() as repeat:
            assert whoami(api_client, access).json()["username"] == "alice"
        assert repeat.commands == []


@needs_redis_server
def test_without_the_lease_every_request_asks_redis(
    lease_on: PrivateRedis, api_client: APIClient, user: Any, settings: Any
) -> None:
    settings.TOKENKIT = {**settings.TOKENKIT, "REVOCATION_LEASE": None}
    access = login(api_client)["access"]
    for _ in range(2):
        with redis_commands() as sent:
            assert whoami(api_client, access).status_code == 200
        assert "MGET" in sent.commands


# --- revocations refuse the very next request ---------------------------------


@needs_redis_server
def test_logout_refuses_the_next_request_of_a_remembered_session(
    lease_on: PrivateRedis,
    api_client: APIClient,
    user: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    pair = login(api_client)
    valid_lease()
    remembered_whoami(api_client, pair["access"])

    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(LOGOUT_URL, {"refresh": pair["refresh"]}, format="json")
    assert response.status_code == 204

    assert_unauthorized(whoami(api_client, pair["access"]), "token_revoked")


def api_token_whoami(client: APIClient, token: str) -> Any:
    return client.get("/api/whoami/", HTTP_AUTHORIZATION=f"Bearer {token}")


def remembered_api_token(client: APIClient, token: str) -> None:
    """Have this process resolve ``token`` until a request of it sends Redis nothing."""
    for _ in range(20):
        valid_lease()
        with redis_commands() as sent:
            assert api_token_whoami(client, token).status_code == 200
        if not sent.commands:
            return
    raise AssertionError(f"the API token was never answered from memory: {sent.commands}")


@needs_redis_server
def test_repeated_request_with_an_api_token_sends_no_redis_command(
    lease_on: PrivateRedis, api_client: APIClient, user: Any
) -> None:
    token = api_tokens.create(user, name="nightly", expires_in=timedelta(days=30)).token
    valid_lease()
    with redis_commands() as first:
        assert api_token_whoami(api_client, token).json()["username"] == "alice"
    assert "MGET" in first.commands

    remembered_api_token(api_client, token)
    with redis_commands() as repeat:
        assert api_token_whoami(api_client, token).json()["username"] == "alice"
    assert repeat.commands == []


@needs_redis_server
def test_revoked_api_token_is_refused_on_the_next_request_of_a_remembered_token(
    lease_on: PrivateRedis,
    api_client: APIClient,
    user: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    issued = api_tokens.create(user, name="nightly", expires_in=timedelta(days=30))
    other = api_tokens.create(user, name="backup", expires_in=timedelta(days=30)).token
    remembered_api_token(api_client, issued.token)
    remembered_api_token(api_client, other)

    with django_capture_on_commit_callbacks(execute=True):
        api_tokens.revoke(APIToken.objects.filter(pk=issued.record.pk), RevokeReason.ADMIN)

    assert_unauthorized(api_token_whoami(api_client, issued.token), "token_revoked")
    assert api_token_whoami(api_client, other).status_code == 200


@needs_redis_server
def test_rotated_api_token_is_refused_once_its_grace_ends_although_remembered(
    lease_on: PrivateRedis,
    api_client: APIClient,
    user: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    issued = api_tokens.create(user, name="nightly", expires_in=timedelta(days=30))
    remembered_api_token(api_client, issued.token)

    with django_capture_on_commit_callbacks(execute=True):
        api_tokens.rotate(issued.record, grace=timedelta(0))

    assert_unauthorized(api_token_whoami(api_client, issued.token), "token_expired")


@needs_redis_server
def test_deactivated_owner_of_a_remembered_api_token_is_refused_on_the_next_request(
    lease_on: PrivateRedis,
    api_client: APIClient,
    user: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    token = api_tokens.create(user, name="nightly", expires_in=timedelta(days=30)).token
    remembered_api_token(api_client, token)

    with django_capture_on_commit_callbacks(execute=True):
        user.is_active = False
        user.save()

    assert_unauthorized(api_token_whoami(api_client, token), "token_revoked")


@needs_redis_server
def test_revoke_session_id_refuses_the_next_request_of_a_remembered_session(
    lease_on: PrivateRedis,
    api_client: APIClient,
    user: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    kept, ended = login(api_client), login(api_client)
    valid_lease()
    remembered_whoami(api_client, kept["access"])
    remembered_whoami(api_client, ended["access"])

    sid = tokens.decode(ended["access"], tokens.ACCESS).sid
    with django_capture_on_commit_callbacks(execute=True):
        assert services.revoke_session_id(sid, RevokeReason.ADMIN) == 1

    assert_unauthorized(whoami(api_client, ended["access"]), "token_revoked")
    with redis_commands() as sent:  # the other session is still remembered
        assert whoami(api_client, kept["access"]).status_code == 200
    assert sent.commands == []


@needs_redis_server
def test_revoke_user_refuses_the_next_request_of_each_remembered_session(
    lease_on: PrivateRedis,
    api_client: APIClient,
    user: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    first, second = login(api_client), login(api_client)
    valid_lease()
    remembered_whoami(api_client, first["access"])
    remembered_whoami(api_client, second["access"])

    with django_capture_on_commit_callbacks(execute=True):
        assert services.revoke_user(user, RevokeReason.ADMIN) == 2

    assert_unauthorized(whoami(api_client, first["access"]), "token_revoked")
    assert_unauthorized(whoami(api_client, second["access"]), "token_revoked")


@needs_redis_server
def test_revoked_access_token_is_refused_while_other_tokens_still_work(
    lease_on: PrivateRedis,
    api_client: APIClient,
    user: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    pair, other_session = login(api_client), login(api_client)
    sibling = api_client.post(REFRESH_URL, {"refresh": pair["refresh"]}, format="json").json()
    valid_lease()
    for access in (pair["access"], sibling["access"], other_session["access"]):
        remembered_whoami(api_client, access)

    token = tokens.decode(pair["access"], tokens.ACCESS)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.revoke_token(token, RevokeReason.ADMIN) is True

    assert_unauthorized(whoami(api_client, pair["access"]), "token_revoked")
    # Another session's token is still answered from memory.
    with redis_commands() as sent:
        assert whoami(api_client, other_session["access"]).status_code == 200
    assert sent.commands == []
    # The same session's other token works too (its session state was re-read).
    assert whoami(api_client, sibling["access"]).status_code == 200
    assert_unauthorized(whoami(api_client, pair["access"]), "token_revoked")


@needs_redis_server
def test_deactivated_user_is_refused_on_the_next_request(
    lease_on: PrivateRedis,
    api_client: APIClient,
    user: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    access = login(api_client)["access"]
    valid_lease()
    remembered_whoami(api_client, access)

    with django_capture_on_commit_callbacks(execute=True):
        user.is_active = False
        user.save()

    assert_unauthorized(whoami(api_client, access), "token_revoked")


@needs_redis_server
def test_deleted_user_is_refused_on_the_next_request(
    lease_on: PrivateRedis,
    api_client: APIClient,
    user: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    access = login(api_client)["access"]
    valid_lease()
    remembered_whoami(api_client, access)

    with django_capture_on_commit_callbacks(execute=True):
        user.delete()  # its sessions go with it: only the user's key is announced

    assert_unauthorized(whoami(api_client, access), "token_revoked")


@needs_redis_server
def test_changed_user_row_is_read_again_on_the_next_request(
    lease_on: PrivateRedis,
    api_client: APIClient,
    user: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    access = login(api_client)["access"]
    valid_lease()
    remembered_whoami(api_client, access)

    with django_capture_on_commit_callbacks(execute=True):
        user.username = "alice2"
        user.save()

    assert whoami(api_client, access).json()["username"] == "alice2"


def in_other_thread(work: Callable[[], Any]) -> Any:
    """Run ``work`` in a thread of its own, so on a database connection of its own."""
    results: list[Any] = []

    def run() -> None:
        try:
            results.append(work())
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=DEADLINE)
    assert results, "the other thread's request did not finish"
    return results[0]


@needs_redis_server
def test_request_that_read_a_user_row_before_its_deletion_committed_is_refused_after(
    lease_on: PrivateRedis, transactional_db: Any, user: Any, api_client: APIClient
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs a second connection reading during a write (PostgreSQL)")
    access = login(api_client)["access"]
    valid_lease()

    with transaction.atomic():
        user.delete()
        # Another request reads the row the delete has not committed yet,
        # and this process remembers the session.
        assert in_other_thread(lambda: whoami(APIClient(), access).status_code) == 200
    # The deletion has returned: the remembered copy must not be used.

    assert_unauthorized(whoami(api_client, access), "token_revoked")


# --- Redis stops answering, or comes back empty ------------------------------------


@needs_redis_server
def test_frozen_redis_lapses_the_lease_and_a_revocation_is_refused_from_the_database(
    frozen: Callable[[], None],
    api_client: APIClient,
    user: Any,
    django_capture_on_commit_callbacks: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    kept, ended = login(api_client), login(api_client)
    state = valid_lease()
    remembered_whoami(api_client, kept["access"])
    remembered_whoami(api_client, ended["access"])

    frozen()
    wait_for(lambda: not state.is_valid(), "the lease to lapse")

    caplog.set_level(logging.ERROR, logger="django_tokenkit")
    sid = tokens.decode(ended["access"], tokens.ACCESS).sid
    with django_capture_on_commit_callbacks(execute=True):
        assert services.revoke_session_id(sid, RevokeReason.ADMIN) == 1
    assert any("could not publish" in r.getMessage() for r in caplog.records)

    assert_unauthorized(whoami(api_client, ended["access"]), "token_revoked")
    assert whoami(api_client, kept["access"]).status_code == 200  # the database answers
    assert not state.is_valid()


@needs_redis_server
def test_restarted_redis_empties_the_memory_and_the_lease_comes_back(
    lease_on: PrivateRedis,
    api_client: APIClient,
    user: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    pair = login(api_client)
    state = valid_lease()
    remembered_whoami(api_client, pair["access"])
    keys = session_keys(pair["access"], user)
    assert state.lookup(keys) is not None

    lease_on.stop()
    wait_for(lambda: not state.is_valid(), "the lease to lapse")
    lease_on.start()  # the same port, nothing in it
    wait_for(state.is_valid, "the lease to come back")

    assert lease.local_state() is state
    assert state.lookup(keys) is None  # the subscription was lost: memory emptied
    remembered_whoami(api_client, pair["access"])  # remembered anew

    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(LOGOUT_URL, {"refresh": pair["refresh"]}, format="json")
    assert response.status_code == 204
    assert_unauthorized(whoami(api_client, pair["access"]), "token_revoked")


def announce_to_nobody(client: redis.Redis, keys: list[str]) -> None:
    """Drop every subscription and publish ``keys`` before anyone can resubscribe.

    One ``MULTI``: the announcement is lost, as one published while a
    process's subscription is broken would be.
    """
    pipe = client.pipeline(transaction=True)
    pipe.client_kill_filter(_type="pubsub")
    pipe.publish(lease.channel_name(), json.dumps(keys))
    killed, receivers = pipe.execute()
    assert killed == 1
    assert receivers == 0


def lose_an_announcement(
    client: redis.Redis, api_client: APIClient, access: str, state: LocalState
) -> Any:
    """Revoke ``access``'s session in the shared cache, lose its announcement, ask again."""
    sid_key = revocation.lookup_keys(tokens.decode(access, tokens.ACCESS))[0]
    get_cache().set(sid_key, revocation.REVOKED)  # what the revocation wrote
    announce_to_nobody(client, [sid_key])
    published = time.monotonic()
    wait_for(lambda: applied_since(state, published), "the lease to be confirmed again")
    return whoami(api_client, access)


@needs_redis_server
def test_lost_subscription_empties_the_memory(
    lease_on: PrivateRedis, raw_redis: redis.Redis, api_client: APIClient, user: Any
) -> None:
    access = login(api_client)["access"]
    state = valid_lease()
    remembered_whoami(api_client, access)

    response = lose_an_announcement(raw_redis, api_client, access, state)

    assert_unauthorized(response, "token_revoked")


@needs_redis_server
def test_lost_subscription_empties_the_memory_with_a_retrying_connection_pool(
    private_redis: PrivateRedis,
    lease_backend: str,
    settings: Any,
    raw_redis: redis.Redis,
    api_client: APIClient,
    user: Any,
) -> None:
    use_private_lease_cache(settings, private_redis, lease_backend, retry_on_timeout=True)
    try:
        access = login(api_client)["access"]
        state = valid_lease()
        remembered_whoami(api_client, access)

        response = lose_an_announcement(raw_redis, api_client, access, state)

        assert_unauthorized(response, "token_revoked")
    finally:
        lease.stop()


@needs_redis_server
def test_session_revoked_while_redis_stalled_is_refused_after_redis_recovers(
    lease_on: PrivateRedis,
    api_client: APIClient,
    user: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    process = lease_on.process
    assert process is not None
    access = login(api_client)["access"]
    state = valid_lease()
    remembered_whoami(api_client, access)

    process.send_signal(signal.SIGSTOP)
    try:
        wait_for(lambda: not state.is_valid(), "the lease to lapse")
        sid = tokens.decode(access, tokens.ACCESS).sid
        with django_capture_on_commit_callbacks(execute=True):
            assert services.revoke_session_id(sid, RevokeReason.ADMIN) == 1
        assert_unauthorized(whoami(api_client, access), "token_revoked")  # from the database
    finally:
        process.send_signal(signal.SIGCONT)  # well within STALL_TIMEOUT
    wait_for(state.is_valid, "the lease to come back")
    assert get_cache().get(revocation.session_key(sid)) == revocation.REVOKED

    assert_unauthorized(whoami(api_client, access), "token_revoked")


# --- the channel ---------------------------------------------------------------


@needs_redis_server
def test_message_that_is_not_a_list_of_keys_empties_the_memory(
    lease_on: PrivateRedis, api_client: APIClient, user: Any, raw_redis: redis.Redis
) -> None:
    access = login(api_client)["access"]
    state = valid_lease()
    remembered_whoami(api_client, access)
    keys = session_keys(access, user)

    for garbage in (b"not json", b'{"keys": []}', b'["ok", 3]', b"\xff\xfe"):
        assert state.lookup(keys) is not None
        assert raw_redis.publish(lease.channel_name(), garbage) == 1
        published = time.monotonic()  # after PUBLISH was answered, as announce() counts
        wait_for(partial(applied_since, state, published), f"{garbage!r} to be applied")
        assert state.lookup(keys) is None, garbage
        remembered_whoami(api_client, access)  # remembered anew for the next one


@needs_redis_server
def test_announcement_of_other_keys_keeps_the_memory(
    lease_on: PrivateRedis, api_client: APIClient, user: Any, raw_redis: redis.Redis
) -> None:
    access = login(api_client)["access"]
    state = valid_lease()
    remembered_whoami(api_client, access)
    keys = session_keys(access, user)

    assert raw_redis.publish(lease.channel_name(), json.dumps(["tokenkit:sid:other"])) == 1
    published = time.monotonic()
    wait_for(lambda: applied_since(state, published), "the announcement to be applied")
    assert state.lookup(keys) is not None

    assert raw_redis.publish(lease.channel_name(), json.dumps([keys[0]])) == 1
    published = time.monotonic()
    wait_for(lambda: applied_since(state, published), "the announcement to be applied")
    assert state.lookup(keys) is None


@needs_redis_server
def test_changed_settings_stop_the_subscriber_thread(lease_on: PrivateRedis, settings: Any) -> None:
    state = valid_lease()
    threads = [t for t in threading.enumerate() if t.name == "tokenkit-revocation-lease"]
    assert len(threads) == 1
    settings.TOKENKIT = {**settings.TOKENKIT, "REVOCATION_LEASE": 2 * LEASE}
    assert not threads[0].is_alive()
    assert current_state() is not state
    assert current_state().lease_seconds == pytest.approx(2 * LEASE)


@needs_redis_server
def test_lease_given_as_a_timedelta_is_used_in_seconds(
    lease_on: PrivateRedis, settings: Any
) -> None:
    settings.TOKENKIT = {**settings.TOKENKIT, "REVOCATION_LEASE": timedelta(milliseconds=80)}
    assert valid_lease().lease_seconds == pytest.approx(0.08)


# --- a process forked after its first request ------------------------------------


def forked_child(channel: Any, access: str, parent_state: LocalState) -> None:
    """What a worker forked from a serving process sees; reported over ``channel``.

    Runs in the child (multiprocessing's "fork"): it inherited the parent's
    memory, which holds the session, but not its lease thread.
    """
    report: dict[str, Any] = {}
    try:
        client = APIClient()
        report["first"] = whoami(client, access).status_code
        state = current_state()
        report["own_state"] = state is not parent_state
        wait_for(state.is_valid, "the child's lease to be confirmed")
        threads = [t for t in threading.enumerate() if t.name == lease.Subscriber.THREAD_NAME]
        report["lease_threads"] = len(threads)
        remembered_whoami(client, access)
        report["remembered"] = True
        channel.send(("ready", report))
        if not channel.poll(DEADLINE):
            raise AssertionError("the parent never logged out")
        assert channel.recv() == "logged out"
        response = whoami(client, access)
        report["after_logout"] = (response.status_code, response.json().get("code"))
    except BaseException as error:  # reported to the parent, which fails the test
        report["error"] = repr(error)
    channel.send(("done", report))


@needs_redis_server
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_process_forked_after_first_request_runs_its_own_lease_and_refuses_a_later_logout(
    lease_on: PrivateRedis, transactional_db: Any, user: Any, api_client: APIClient
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the child needs a database connection of its own (PostgreSQL)")
    pair = login(api_client)
    parent_state = valid_lease()
    remembered_whoami(api_client, pair["access"])  # the lease thread runs, memory holds the session
    assert parent_state.lookup(session_keys(pair["access"], user)) is not None

    connection.close()  # each process then opens its own, none shares a socket
    context = multiprocessing.get_context("fork")
    parent_end, child_end = context.Pipe()
    child = context.Process(target=forked_child, args=(child_end, pair["access"], parent_state))
    child.start()
    try:
        assert parent_end.poll(4 * DEADLINE), "the child did not report"
        stage, report = parent_end.recv()
        assert stage == "ready", report
        response = api_client.post(LOGOUT_URL, {"refresh": pair["refresh"]}, format="json")
        assert response.status_code == 204  # committed and announced: the lease waited
        parent_end.send("logged out")
        assert parent_end.poll(DEADLINE), "the child did not report"
        stage, report = parent_end.recv()
    finally:
        child.join(timeout=DEADLINE)
        if child.is_alive():
            child.kill()

    assert report == {
        "first": 200,
        "own_state": True,
        "lease_threads": 1,
        "remembered": True,
        "after_logout": (401, "token_revoked"),
    }
    assert child.exitcode == 0
    assert_unauthorized(whoami(api_client, pair["access"]), "token_revoked")
