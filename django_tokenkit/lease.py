"""The revocation lease: repeat requests answered without a cache round trip.

On by default whenever tokenkit's cache is Redis (django-redis or Django's
RedisCache): ``TOKENKIT["REVOCATION_LEASE"]`` is ``"auto"``, which is 50 ms
there and off with any other cache; ``None`` turns it off. Each process
keeps the revocation state and user it has resolved for a session (or the
state and owner of an API token), and answers the next request of that
session (or token) from memory, while still
refusing, on every process, the first request that arrives after a
revocation has returned. It is the default because one cache round trip
per request was most of what authentication cost (docs/benchmarks.rst).

How the guarantee is kept, with no synchronised clocks:

- Every revocation is written to the database, then to the shared cache,
  then *announced*: the cache keys it changed are published on a Redis
  channel, and the announcing call returns only a lease ``L`` after the
  ``PUBLISH`` was answered.
- Each process subscribes to that channel in a background thread and sends
  ``PING`` down its subscription every ``L / 5``. Redis answers a
  connection in order, so a ``PONG`` proves that every announcement
  published before Redis read the ``PING`` has been delivered and applied.
- A process answers from memory only while its newest confirmed ``PING``
  was *sent* less than ``L`` ago (its own monotonic clock). A request that
  reaches it after a revocation returned therefore finds a ``PING`` sent
  after the ``PUBLISH`` was answered: the announcement came first.

If pongs stop (Redis stopped, a partition, a stalled thread), the lease
lapses after ``L`` and requests take the ordinary path: a round trip, and
the database when the cache cannot be reached. A lost subscription empties
the memory. An entry is also dropped after :data:`ENTRY_TIMEOUT` seconds,
which bounds what a revocation whose announcement could not be published
(the announcing process could not reach Redis) leaves behind.

The price: each announcement (logout, revocation, a change to a user row
other than a login's ``last_login``) waits ``L``, and each process runs one
thread that pings ``5 / L`` times a second.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import pickle
import threading
import time
from collections import deque
from collections.abc import Collection, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed

from django_tokenkit.cache import get_cache, namespaced, redis_client
from django_tokenkit.conf import SOURCE_SETTINGS, tokenkit_settings

if TYPE_CHECKING:
    import redis

logger = logging.getLogger(__name__)

#: How long a remembered entry may be used at most, in seconds.
ENTRY_TIMEOUT = 60.0
#: How many sessions' entries a process remembers.
MAX_ENTRIES = 10_000
#: Pings per lease: the lease survives a few late pongs.
PINGS_PER_LEASE = 5
#: A subscription whose oldest unanswered ping is this old is reopened.
STALL_TIMEOUT = 5.0
#: Pause before reopening a failed subscription.
RETRY_DELAY = 0.5

_PING_PREFIX = "tokenkit-lease:"


def channel_name() -> str:
    """The announcement channel, namespaced like the cache's own keys.

    Channels are shared by all of a Redis server's databases; the cache's
    ``KEY_PREFIX`` and version keep two sites on one server apart.
    """
    return get_cache().make_key(namespaced("revocations"))


def _redis(alias: str) -> redis.Redis:
    """The primary's redis-py client of the cache ``alias`` (check E009 makes it Redis)."""
    client = redis_client(write=True, alias=alias)
    if client is None:
        raise ImproperlyConfigured(
            f"TOKENKIT['REVOCATION_LEASE'] needs a Redis cache; {alias!r} is not one."
        )
    return client


class LocalState:
    """One process's remembered entries, and the lease that makes them usable.

    ``generation`` moves on every applied announcement and every reset, so
    a request that read the shared cache before an announcement cannot store
    what it read after the announcement was applied (see :meth:`store`).
    """

    def __init__(self, lease_seconds: float) -> None:
        self.lease_seconds = lease_seconds
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, Any]] = {}
        self._generation = 0
        #: Monotonic send time of the newest answered ping (-inf: no lease).
        self._confirmed_at = float("-inf")

    # The lease ------------------------------------------------------------------

    def is_valid(self, now: float | None = None) -> bool:
        moment = time.monotonic() if now is None else now
        return moment - self._confirmed_at < self.lease_seconds

    @property
    def was_confirmed(self) -> bool:
        """Whether a ping was answered since the last :meth:`reset`."""
        return self._confirmed_at != float("-inf")

    def confirm(self, sent_at: float) -> None:
        """A ping sent at ``sent_at`` was answered: every earlier announcement is applied.

        An answer that ends a lapse also empties the memory: while pongs were
        late, a revocation may have failed to reach Redis in time to be
        announced (its writer timed out) and still been applied by Redis
        afterwards, so nothing remembered from before the lapse is trusted.
        """
        with self._lock:
            if not self.is_valid():
                self._entries.clear()
                self._generation += 1
            self._confirmed_at = max(self._confirmed_at, sent_at)

    def reset(self) -> None:
        """Forget everything and lapse the lease (a subscription was lost or is new)."""
        with self._lock:
            self._confirmed_at = float("-inf")
            self._entries.clear()
            self._generation += 1

    # Entries ---------------------------------------------------------------------

    def lookup(self, keys: Iterable[str]) -> dict[str, Any] | None:
        """Every one of ``keys`` from memory, or None (lease lapsed, or one is unknown)."""
        now = time.monotonic()
        if not self.is_valid(now):
            return None
        found: dict[str, Any] = {}
        for key in keys:
            entry = self._entries.get(key)
            if entry is None or entry[0] <= now:
                return None
            found[key] = entry[1]
        return found

    def begin(self) -> int | None:
        """The generation to pass to :meth:`store`, or None when nothing may be stored.

        Called before the shared cache is read. Only under a valid lease is
        every later announcement sure to be applied, so only then may the
        result be kept.
        """
        if not self.is_valid():
            return None
        return self._generation

    def store(self, generation: int, values: dict[str, Any]) -> bool:
        """Keep ``values`` unless an announcement was applied since :meth:`begin`."""
        expires = time.monotonic() + ENTRY_TIMEOUT
        with self._lock:
            if generation != self._generation:
                return False
            while len(self._entries) + len(values) > MAX_ENTRIES and self._entries:
                del self._entries[next(iter(self._entries))]
            for key, value in values.items():
                self._entries[key] = (expires, value)
            return True

    def drop(self, keys: Collection[str]) -> None:
        """Apply an announcement: these keys changed in the shared cache."""
        with self._lock:
            self._generation += 1
            for key in keys:
                self._entries.pop(key, None)


class Subscriber:
    """Keeps a :class:`LocalState` fed from the announcement channel, in a thread.

    It owns a thread rather than subclassing ``threading.Thread``: a subclass
    shares the namespace of the stdlib's private attributes, and Python 3.13
    gave every thread a ``_handle`` that a method of that name here shadowed,
    so each message raised ``TypeError`` and the lease never held.
    """

    THREAD_NAME = "tokenkit-revocation-lease"

    def __init__(self, state: LocalState, cache_alias: str, channel: str) -> None:
        self.thread = threading.Thread(target=self.run, name=self.THREAD_NAME, daemon=True)
        self.state = state
        self.cache_alias = cache_alias
        self.channel = channel
        self.stopped = threading.Event()
        self._ping_ids = itertools.count(1)
        #: Pings sent on the current connection and not answered yet, oldest first.
        self._pending: deque[tuple[str, float]] = deque()

    def run(self) -> None:
        warned = False
        while not self.stopped.is_set():
            self.state.reset()
            try:
                self._listen()
            except Exception as error:  # any connection failure: start over
                if not warned or self.state.was_confirmed:
                    logger.warning(
                        "tokenkit revocation lease lost its Redis subscription (%s); "
                        "requests make a cache round trip until it is back.",
                        type(error).__name__,
                    )
                warned = True
            self.state.reset()
            self.stopped.wait(RETRY_DELAY)

    def _listen(self) -> None:
        interval = self.state.lease_seconds / PINGS_PER_LEASE
        client = _redis(self.cache_alias)
        pubsub = client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
        try:
            pubsub.subscribe(self.channel)
            # A pool with a retry policy reconnects and resubscribes inside
            # redis-py without raising; announcements published meanwhile
            # were lost, so a reconnection must empty the memory too.
            pubsub.connection.register_connect_callback(self._on_reconnect)
            self._pending.clear()
            next_ping = 0.0
            while not self.stopped.is_set():
                now = time.monotonic()
                if now >= next_ping:
                    if self._pending and now - self._pending[0][1] > STALL_TIMEOUT:
                        raise TimeoutError("no answer to the lease's pings")
                    ping_id = f"{_PING_PREFIX}{next(self._ping_ids)}"
                    pubsub.ping(ping_id)
                    self._pending.append((ping_id, now))
                    next_ping = now + interval
                message = pubsub.get_message(timeout=max(next_ping - time.monotonic(), 0.0))
                if message is not None:
                    self._handle(message)
        finally:
            pubsub.close()

    def _on_reconnect(self, connection: Any) -> None:
        self.state.reset()
        self._pending.clear()  # pings sent on the lost connection get no answer

    def _handle(self, message: dict[str, Any]) -> None:
        data = message.get("data")
        if isinstance(data, bytes):
            data = data.decode("utf-8", "replace")
        if message.get("type") == "pong":
            if not isinstance(data, str) or not data.startswith(_PING_PREFIX):
                return  # redis-py's own health check
            # Pongs come back in order; anything older than this one is answered too.
            while self._pending:
                ping_id, sent_at = self._pending.popleft()
                if ping_id == data:
                    self.state.confirm(sent_at)
                    return
            return
        if message.get("type") == "message" and isinstance(data, str):
            try:
                keys = json.loads(data)
            except ValueError:
                keys = None
            if isinstance(keys, list) and all(isinstance(key, str) for key in keys):
                self.state.drop(keys)
            else:
                # Not ours, or damaged: the only safe reading is "anything changed".
                self.state.reset()


_current: tuple[int, LocalState, Subscriber] | None = None
_current_lock = threading.Lock()


def _forget_parent_lock() -> None:
    """In a forked child: a lock some other thread of the parent held stays held."""
    global _current_lock
    _current_lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_parent_lock)


def local_state() -> LocalState | None:
    """This process's state when the lease is on, starting its thread on first use.

    None when ``REVOCATION_LEASE`` is off. A process forked from one that had
    a thread (after it served a request, or gunicorn's ``--preload``) starts
    its own and never trusts the parent's memory, whose subscription stayed
    with the parent.
    """
    global _current
    lease = tokenkit_settings.revocation_lease
    if lease is None:
        return None
    current = _current
    pid = os.getpid()
    if current is not None and current[0] == pid:
        return current[1]
    with _current_lock:
        if _current is None or _current[0] != pid:
            state = LocalState(lease.total_seconds())
            subscriber = Subscriber(state, tokenkit_settings.cache_alias, channel_name())
            subscriber.thread.start()
            _current = (pid, state, subscriber)
        return _current[1]


def stop() -> None:
    """Stop this process's thread and forget its state (settings changed, tests)."""
    global _current
    with _current_lock:
        current, _current = _current, None
    if current is not None and current[0] == os.getpid():
        current[2].stopped.set()
        current[2].thread.join(timeout=5)


def _stop_on_setting_change(*, setting: str, **kwargs: Any) -> None:
    if setting in SOURCE_SETTINGS:
        stop()


setting_changed.connect(_stop_on_setting_change, dispatch_uid="django_tokenkit.lease.stop")


def announce(keys: Collection[str], *, wait: bool = True) -> None:
    """Tell every process these shared-cache keys changed; return once all must know.

    Call after the change is in the database and the shared cache. With the
    lease off this does nothing. When Redis cannot be reached the error is
    logged and nothing waits: processes then keep what they remember for at
    most :data:`ENTRY_TIMEOUT` seconds.

    ``wait=False`` publishes without waiting the lease, for a change no
    request needs to see at once (Django's ``login()`` writing
    ``last_login``): processes drop what they kept as soon as the message
    reaches them, normally well under a millisecond later, rather than by
    the time this returns.
    """
    lease = tokenkit_settings.revocation_lease
    if lease is None or not keys:
        return
    try:
        _redis(tokenkit_settings.cache_alias).publish(channel_name(), json.dumps(sorted(keys)))
    except Exception as error:  # the cache backend's connection error
        logger.error(
            "tokenkit could not announce a revocation (%s); processes that remember the "
            "affected sessions may accept their tokens for up to %s s.",
            type(error).__name__,
            int(ENTRY_TIMEOUT),
        )
        return
    if wait:
        time.sleep(lease.total_seconds())


class _Absent:
    """A key remembered as absent from the shared cache (a token nobody revoked)."""


ABSENT = _Absent()


class _PickledUser(bytes):
    """A remembered user, kept pickled so that each request gets its own copy."""


def recall(state: LocalState, keys: list[str]) -> dict[str, Any] | None:
    """``keys`` from memory, in the shape a ``get_many`` of the shared cache returns."""
    remembered = state.lookup(keys)
    if remembered is None:
        return None
    found: dict[str, Any] = {}
    for key, value in remembered.items():
        if isinstance(value, _PickledUser):
            found[key] = pickle.loads(value)  # noqa: S301  # our own bytes, never from outside
        elif value is not ABSENT:
            found[key] = value
    return found


def remember(
    state: LocalState,
    generation: int,
    values: Mapping[str, Any],
    *,
    user: tuple[str, Any],
) -> None:
    """Keep what a request resolved: the shared cache's ``values`` and its user.

    ``values`` maps each key to what the cache held (:data:`ABSENT` for a key
    it did not hold); they are handed back as they are, so they must be
    values no request changes (strings, the API-token state dicts). The
    user is kept pickled, so that each request gets its own instance.
    """
    state.store(
        generation,
        {**values, user[0]: _PickledUser(pickle.dumps(user[1], pickle.HIGHEST_PROTOCOL))},
    )
