"""The refresh lock (:mod:`django_tokenkit.locks`) on each kind of cache.

On Redis, through either backend (the ``redis_cache`` fixture runs each test
against django-redis and Django's RedisCache), it must be a Redis lock on the
primary: a random token set with ``NX`` and an expiry in milliseconds,
deleted at the end only by its owner.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

import pytest
import redis
from django.core.cache import BaseCache, caches

from django_tokenkit import cache as tokenkit_cache
from django_tokenkit import locks
from django_tokenkit.cache import cache_key, redis_client


def redis_lock_key(cache: BaseCache, name: str) -> str:
    """The key of lock ``name`` in Redis: tokenkit's namespace, then the backend's."""
    return cache.make_key(cache_key("lock", name))


def raw(cache: BaseCache) -> redis.Redis:
    client = redis_client(write=True)
    assert client is not None
    return client


def held_elsewhere(name: str) -> bool:
    """Whether another thread, trying ``name`` now, gets it (within the wait)."""
    result: list[bool] = []

    def attempt() -> None:
        with locks.single_flight(name) as held:
            result.append(held)

    thread = threading.Thread(target=attempt)
    thread.start()
    thread.join(timeout=30)
    return result == [True]


def test_single_flight_on_redis_sets_a_random_token_that_expires(
    redis_cache: BaseCache,
) -> None:
    key = redis_lock_key(redis_cache, "a")
    with locks.single_flight("a") as held:
        assert held is True
        token = raw(redis_cache).get(key)
        ttl = raw(redis_cache).pttl(key)
    assert isinstance(token, bytes)
    assert re.fullmatch(rb"[0-9a-f]{32}", token), token  # redis-py's uuid, not a pickle
    assert 0 < ttl <= locks.LOCK_TIMEOUT * 1000
    assert raw(redis_cache).exists(key) == 0  # released by its owner


def test_single_flight_on_redis_gives_each_holder_its_own_token(redis_cache: BaseCache) -> None:
    key = redis_lock_key(redis_cache, "a")
    tokens = []
    for _ in range(2):
        with locks.single_flight("a"):
            tokens.append(raw(redis_cache).get(key))
    assert tokens[0] != tokens[1]


def test_single_flight_on_redis_is_not_had_by_another_thread_while_held(
    redis_cache: BaseCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(locks, "WAIT_TIMEOUT", 0.1)
    with locks.single_flight("a") as held:
        assert held is True
        assert held_elsewhere("a") is False  # waited, then went ahead without it
        assert held_elsewhere("b") is True  # other names are other locks
    assert held_elsewhere("a") is True


def test_single_flight_on_redis_never_releases_a_lock_another_owner_took(
    redis_cache: BaseCache,
) -> None:
    key = redis_lock_key(redis_cache, "a")
    with locks.single_flight("a") as held:
        assert held is True
        # The lock expired and another process took it.
        raw(redis_cache).set(key, "another-owner", px=10_000)
    assert raw(redis_cache).get(key) == b"another-owner"


def test_single_flight_on_an_unreachable_redis_runs_the_block_without_the_lock(
    redis_cache: BaseCache,
    settings: Any,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(tokenkit_cache, "_last_warning", float("-inf"))
    alias = settings.TOKENKIT["CACHE_ALIAS"]
    settings.CACHES = {
        **settings.CACHES,
        alias: {**settings.CACHES[alias], "LOCATION": "redis://127.0.0.1:1/0"},
    }
    ran = []
    with locks.single_flight("a") as held:
        ran.append(held)
    assert ran == [False]
    assert "unavailable during refresh lock" in caplog.text


def test_single_flight_on_local_memory_is_a_lock_of_the_process(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(locks, "WAIT_TIMEOUT", 0.1)
    settings.CACHES = {
        **settings.CACHES,
        "local": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    }
    settings.TOKENKIT = {**settings.TOKENKIT, "CACHE_ALIAS": "local"}
    with locks.single_flight("a") as held:
        assert held is True
        assert held_elsewhere("a") is False
    assert held_elsewhere("a") is True


def test_single_flight_on_another_backend_is_a_marker_added_to_the_cache(
    settings: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(locks, "WAIT_TIMEOUT", 0.1)
    settings.CACHES = {
        **settings.CACHES,
        "files": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(tmp_path),
        },
    }
    settings.TOKENKIT = {**settings.TOKENKIT, "CACHE_ALIAS": "files"}
    key = cache_key("lock", "a")
    with locks.single_flight("a") as held:
        assert held is True
        assert caches["files"].get(key) is not None
        assert held_elsewhere("a") is False
    assert caches["files"].get(key) is None
    assert held_elsewhere("a") is True
