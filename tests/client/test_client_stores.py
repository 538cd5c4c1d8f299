"""Token stores: files (0600, atomic, locked across processes) and Redis (owned locks)."""

from __future__ import annotations

import os
import secrets
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from django_tokenkit.client import FileTokenStore, MemoryTokenStore, RedisTokenStore, TokenRecord
from tests.e2e import service_urls

PAIR = {"access": "a", "refresh": "r", "expires_in": 901, "refresh_expires_in": 86401}


def record(now: float = 1000.0, refresh: str = "r") -> TokenRecord:
    return TokenRecord.from_pair({**PAIR, "refresh": refresh}, now)


# --- files -------------------------------------------------------------------------


def test_file_store_save_creates_private_file_and_replaces_it_atomically(tmp_path: Path) -> None:
    store = FileTokenStore(tmp_path / "jobs" / "session.json")

    store.save(record(), now=1000.0)
    first_inode = store.path.stat().st_ino
    store.save(record(refresh="r2"), now=1000.0)

    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert store.path.stat().st_ino != first_inode  # a new file renamed over the old
    assert sorted(p.name for p in store.path.parent.iterdir()) == ["session.json"]
    loaded = store.load(now=1000.0)
    assert loaded is not None
    assert loaded.refresh == "r2"


def test_file_store_load_translates_between_clocks(tmp_path: Path) -> None:
    store = FileTokenStore(tmp_path / "session.json")
    saved = record(now=time.time() + 3600)  # a writer whose clock is an hour ahead

    store.save(saved, now=time.time() + 3600)
    loaded = store.load(now=time.time() - 3600)  # read by one an hour behind

    assert loaded is not None
    left = loaded.access_expires_at - (time.time() - 3600)
    assert 895 < left <= 900


def test_file_store_corrupt_or_missing_file_reads_as_empty(tmp_path: Path) -> None:
    store = FileTokenStore(tmp_path / "session.json")
    assert store.load(now=0.0) is None

    store.path.write_text("{not json")

    assert store.load(now=0.0) is None


def test_file_store_clear_if_refresh_keeps_a_newer_session(tmp_path: Path) -> None:
    store = FileTokenStore(tmp_path / "session.json")
    store.save(record(refresh="newer"), now=0.0)

    store.clear(if_refresh="older")
    assert store.load(now=0.0) is not None
    store.clear(if_refresh="newer")

    assert store.load(now=0.0) is None


@pytest.fixture
def lock_held_elsewhere(tmp_path: Path) -> Iterator[tuple[FileTokenStore, subprocess.Popen[str]]]:
    """Another process holding the file store's lock until its stdin closes."""
    store = FileTokenStore(tmp_path / "session.json")
    code = (
        "import sys\n"
        "from django_tokenkit.client import FileTokenStore\n"
        f"with FileTokenStore({str(store.path)!r}).lock(5) as acquired:\n"
        "    print(acquired, flush=True)\n"
        "    sys.stdin.read()\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "True"
    yield store, holder
    holder.kill()
    holder.wait()


def test_file_store_lock_held_by_another_process_waits_bounded_then_acquires(
    lock_held_elsewhere: tuple[FileTokenStore, subprocess.Popen[str]],
) -> None:
    store, holder = lock_held_elsewhere

    started = time.monotonic()
    with store.lock(0.3) as acquired:
        assert acquired is False
    assert time.monotonic() - started >= 0.3
    assert holder.stdin is not None
    holder.stdin.close()
    holder.wait(timeout=10)
    with store.lock(5) as acquired:
        assert acquired is True
    assert stat.S_IMODE(os.stat(store.lock_path).st_mode) == 0o600


def test_memory_store_lock_is_exclusive_with_bounded_wait() -> None:
    store = MemoryTokenStore()

    with store.lock(1) as first, store.lock(0.05) as second:
        assert (first, second) == (True, False)
    with store.lock(0) as again:
        assert again is True


# --- Redis (the services half) ------------------------------------------------------


@pytest.fixture
def redis_url() -> str:
    return service_urls()[1]


@pytest.fixture
def redis_key(redis_url: str) -> Iterator[str]:
    import redis

    key = f"tokenkit:test:client:{secrets.token_hex(6)}"
    yield key
    client = redis.Redis.from_url(redis_url)
    client.delete(key, f"{key}:lock")
    client.close()


@pytest.mark.services
def test_redis_store_round_trip_uses_redis_clock_and_expires_with_refresh_token(
    redis_url: str, redis_key: str
) -> None:
    writer = RedisTokenStore(redis_url, redis_key)
    reader = RedisTokenStore(redis_url, redis_key)

    writer.save(record(now=time.time() + 3600), now=time.time() + 3600)
    loaded = reader.load(now=time.time() - 3600)

    assert loaded is not None
    assert 895 < loaded.access_expires_at - (time.time() - 3600) <= 900
    ttl = writer._redis.pttl(redis_key)
    assert 86_000_000 < ttl <= (86_400 + 60) * 1000


@pytest.mark.services
def test_redis_store_lock_is_exclusive_with_bounded_wait(redis_url: str, redis_key: str) -> None:
    first = RedisTokenStore(redis_url, redis_key)
    second = RedisTokenStore(redis_url, redis_key)

    with first.lock(1) as held:
        started = time.monotonic()
        with second.lock(0.2) as waited:
            assert (held, waited) == (True, False)
        assert time.monotonic() - started >= 0.2
    with second.lock(0) as acquired:
        assert acquired is True
    assert first._redis.exists(f"{redis_key}:lock") == 0


@pytest.mark.services
def test_redis_store_lock_outlived_is_not_released_by_former_owner(
    redis_url: str, redis_key: str
) -> None:
    slow = RedisTokenStore(redis_url, redis_key, lock_ttl=0.1)
    other = RedisTokenStore(redis_url, redis_key)
    stalled = slow.lock(1)
    assert stalled.__enter__() is True
    time.sleep(0.2)  # a real Redis TTL runs out: the holder stalled past it

    with other.lock(0) as taken:
        assert taken is True
        owner = other._redis.get(f"{redis_key}:lock")
        stalled.__exit__(None, None, None)  # the stalled holder finishes and "releases"
        assert other._redis.get(f"{redis_key}:lock") == owner

    assert other._redis.exists(f"{redis_key}:lock") == 0  # released by its owner
