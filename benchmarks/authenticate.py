"""Measurement 1: the per-call cost of ``authenticate()`` on a prepared request.

Every contender's authentication class is instantiated in this one process
and called on prepared DRF requests (one per user, cycled), the way DRF
calls it once per request. Rounds interleave the contenders in a shuffled
order, so drift in the machine's speed hits all of them alike; ratios are
taken per round (paired) and their median reported.

A separate counting pass, not timed, records per call the database queries
(Django's query capture) and the cache round trips: Redis commands sent on
the wire (``redis.Redis.execute_command``; a pipeline counts once) and, for
the local-memory cache, calls into the cache API.

A post-login contender is measured on fresh sessions: right before each of
its batches (and its counting pass) every user logs in again through the
login endpoint, and the batch starts at once. Its counts are split: the
first request of each session, and the requests after it.
"""

from __future__ import annotations

import contextlib
import gc
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from benchmarks.contenders import Contender
from benchmarks.environment import Credentials

LOCMEM_METHODS = (
    "get",
    "get_many",
    "set",
    "add",
    "delete",
    "set_many",
    "delete_many",
    "has_key",
    "incr",
    "touch",
    "get_or_set",
)


@dataclass
class AuthenticateResult:
    contender: Contender
    #: mean microseconds per call (batch time / calls), one value per round
    per_call_us: list[float] = field(default_factory=list)
    #: the median single call's microseconds, one value per round
    median_call_us: list[float] = field(default_factory=list)
    calls_per_round: int = 0
    #: steady state; for a post-login contender, from each session's second request on
    queries_per_call: float = 0.0
    cache_round_trips_per_call: float = 0.0
    #: post-login contenders: the first request of each freshly logged-in session
    first_request_queries: float | None = None
    first_request_round_trips: float | None = None
    #: post-login contenders: the longest time from a batch's logins to its end, in seconds
    since_login_s: float | None = None


class _Counter:
    def __init__(self) -> None:
        self.redis_commands = 0
        self.locmem_calls = 0
        self.local = threading.local()


@contextlib.contextmanager
def count_cache_round_trips() -> Iterator[_Counter]:
    """Count Redis commands on the wire and outermost local-memory cache calls."""
    import redis
    from django.core.cache.backends.locmem import LocMemCache

    counter = _Counter()
    original_execute = redis.Redis.execute_command
    original_pipeline = redis.client.Pipeline.execute

    def execute_command(self: Any, *args: Any, **kwargs: Any) -> Any:
        counter.redis_commands += 1
        return original_execute(self, *args, **kwargs)

    def pipeline_execute(self: Any, *args: Any, **kwargs: Any) -> Any:
        counter.redis_commands += 1
        return original_pipeline(self, *args, **kwargs)

    def wrap(method: Callable[..., Any]) -> Callable[..., Any]:
        def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
            depth = getattr(counter.local, "depth", 0)
            if depth == 0:
                counter.locmem_calls += 1
            counter.local.depth = depth + 1
            try:
                return method(self, *args, **kwargs)
            finally:
                counter.local.depth = depth

        return counted

    originals = {name: getattr(LocMemCache, name) for name in LOCMEM_METHODS}
    redis.Redis.execute_command = execute_command  # type: ignore[method-assign]
    redis.client.Pipeline.execute = pipeline_execute  # type: ignore[method-assign]
    for name, method in originals.items():
        setattr(LocMemCache, name, wrap(method))
    try:
        yield counter
    finally:
        redis.Redis.execute_command = original_execute  # type: ignore[method-assign]
        redis.client.Pipeline.execute = original_pipeline  # type: ignore[method-assign]
        for name, method in originals.items():
            setattr(LocMemCache, name, method)


@contextlib.contextmanager
def contender_settings(contender: Contender) -> Iterator[None]:
    """Point tokenkit at the contender's cache; other packages need no change."""
    from django.conf import settings
    from django.test import override_settings

    if contender.cache_alias is None:
        yield
        return
    from benchmarks.environment import tokenkit_keys

    base = {key: value for key, value in settings.TOKENKIT.items() if key != "REVOCATION_LEASE"}
    with override_settings(
        TOKENKIT={
            **base,
            "CACHE_ALIAS": contender.cache_alias,
            **contender.tokenkit_overrides(),
            **tokenkit_keys(contender.algorithm),
        }
    ):
        wait_for_lease()
        yield


def wait_for_lease(deadline_seconds: float = 5.0) -> None:
    """When the lease is on, let its thread get its first answer, as it has in a server.

    It is on by default with a Redis cache; the thread starts on first use,
    so without this the first calls measured would all make a round trip.
    """
    from django_tokenkit import lease

    state = lease.local_state()
    if state is None:
        return
    deadline = time.monotonic() + deadline_seconds
    while not state.is_valid():
        if time.monotonic() > deadline:
            raise RuntimeError("the revocation lease did not start: is Redis reachable?")
        time.sleep(0.005)


class _Floor:
    """No authentication class at all: what DRF does with an empty list."""

    def authenticate(self, request: Any) -> None:
        return None


def _prepared(contender: Contender, credentials: Credentials) -> tuple[Any, list[Any]]:
    from django.utils.module_loading import import_string

    authenticator = (
        import_string(contender.authentication)() if contender.authentication else _Floor()
    )
    return authenticator, _requests(credentials.for_contender(contender))


def _requests(headers: list[str]) -> list[Any]:
    """One prepared DRF request per ``Authorization`` value."""
    from rest_framework.request import Request
    from rest_framework.test import APIRequestFactory

    factory = APIRequestFactory()
    return [Request(factory.get("/api/me/", HTTP_AUTHORIZATION=header)) for header in headers]


def _logged_in_again(credentials: Credentials) -> list[Any]:
    """Log every user in through the login endpoint; requests carrying the new tokens."""
    from benchmarks import logins

    return _requests([f"Bearer {token}" for token in logins.in_process(credentials.usernames)])


def _check(contender: Contender, authenticator: Any, requests: list[Any], user_ids: list[int]):
    """Every prepared request authenticates as its own user (the floor: as nobody)."""
    for request, user_id in zip(requests, user_ids, strict=True):
        outcome = authenticator.authenticate(request)
        if contender.authentication is None:
            assert outcome is None
            continue
        assert outcome is not None, contender.name
        assert str(outcome[0].pk) == str(user_id), (contender.name, outcome[0].pk, user_id)


def _run_batch(authenticator: Any, requests: list[Any], calls: int) -> tuple[float, float]:
    """Seconds for ``calls`` calls cycling over ``requests``, and the median call's seconds.

    Each call is also timed on its own: on a machine where other processes
    compete for the cores, a cache or database round trip now and then waits
    milliseconds for its server to be scheduled, which moves the mean far
    more than the typical call.
    """
    authenticate = authenticator.authenticate
    count = len(requests)
    sequence = [requests[index % count] for index in range(calls)]
    durations = [0.0] * calls
    clock = time.perf_counter
    gc.collect()
    start = clock()
    for index, request in enumerate(sequence):
        began = clock()
        authenticate(request)
        durations[index] = clock() - began
    elapsed = clock() - start
    durations.sort()
    return elapsed, durations[calls // 2]


def measure(
    contenders: list[Contender],
    credentials: Credentials,
    *,
    rounds: int,
    batch_seconds: float,
    seed: int,
    progress: Callable[[str], None] = print,
) -> list[AuthenticateResult]:
    """Measure every contender, interleaved over ``rounds`` shuffled rounds."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    results = {contender.name: AuthenticateResult(contender) for contender in contenders}
    prepared = {contender.name: _prepared(contender, credentials) for contender in contenders}

    for contender in contenders:
        authenticator, requests = prepared[contender.name]
        result = results[contender.name]
        with contender_settings(contender):
            if contender.post_login:
                # Each session's first request, counted apart from the ones after it.
                requests = _logged_in_again(credentials)
                with CaptureQueriesContext(connection) as queries, count_cache_round_trips() as io:
                    _check(contender, authenticator, requests, credentials.user_ids)
                first = len(requests)
                result.first_request_queries = len(queries.captured_queries) / first
                result.first_request_round_trips = (io.redis_commands + io.locmem_calls) / first
            else:
                # Twice: the first pass fills the caches, the second must be steady.
                _check(contender, authenticator, requests, credentials.user_ids)
            _check(contender, authenticator, requests, credentials.user_ids)
            sample = len(requests) * 4
            with CaptureQueriesContext(connection) as queries, count_cache_round_trips() as io:
                for index in range(sample):
                    authenticator.authenticate(requests[index % len(requests)])
            result.queries_per_call = len(queries.captured_queries) / sample
            result.cache_round_trips_per_call = (io.redis_commands + io.locmem_calls) / sample
            # Calibrate the batch to about batch_seconds.
            elapsed, _ = _run_batch(authenticator, requests, 200)
            result.calls_per_round = max(200, int(200 * batch_seconds / max(elapsed, 1e-9)))

    order = list(contenders)
    shuffler = random.Random(seed)
    for round_number in range(1, rounds + 1):
        shuffler.shuffle(order)
        for contender in order:
            authenticator, requests = prepared[contender.name]
            result = results[contender.name]
            with contender_settings(contender):
                logged_in = time.monotonic()
                if contender.post_login:
                    # Fresh sessions, measured at once: the batch is the post-login window.
                    requests = _logged_in_again(credentials)
                elapsed, median_call = _run_batch(authenticator, requests, result.calls_per_round)
                if contender.post_login:
                    since = time.monotonic() - logged_in
                    result.since_login_s = max(result.since_login_s or 0.0, since)
            result.per_call_us.append(elapsed / result.calls_per_round * 1e6)
            result.median_call_us.append(median_call * 1e6)
        progress(
            f"  authenticate() round {round_number}/{rounds}: "
            + ", ".join(f"{c.name} {results[c.name].per_call_us[-1]:.1f}" for c in contenders)
            + " us"
        )
    return [results[contender.name] for contender in contenders]
