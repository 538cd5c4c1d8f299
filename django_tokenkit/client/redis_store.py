"""``RedisTokenStore``: one session shared by many processes on many machines.

The first process to find the access token nearly spent takes the lock
(``SET key:lock <random> NX PX <ttl>``), re-reads the entry, refreshes and
writes the new pair before releasing; the others wait (a bounded wait) or,
for a background refresh, don't wait at all, and then read the new pair.
The lock expires by itself if its holder dies, and is released only by its
owner: a compare-and-delete script, so a holder that outlived its TTL
cannot delete the lock someone else took since.

Times are stored on Redis's own clock (``TIME``), so machines whose clocks
disagree still agree on how long a token has left.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from django_tokenkit.client.errors import MissingDependency
from django_tokenkit.client.stores import LOCK_POLL_INTERVAL, TokenStore

_RELEASE = """
if redis.call("get", KEYS[1]) == ARGV[1] then
    return redis.call("del", KEYS[1])
end
return 0
"""

#: Entries outlive their refresh token by this much, then Redis drops them.
EXPIRY_SLACK = 60.0


class RedisTokenStore(TokenStore):
    """Keep a session in Redis at ``key`` (the lock at ``key + ":lock"``).

    ``url`` is a ``redis://`` URL (or pass a ready ``client``). ``lock_ttl``
    bounds how long a crashed refresher can block the others; it should
    exceed the client's back-off budget. Needs the ``redis`` package:
    ``pip install 'django-tokenkit[client-redis]'``.
    """

    def __init__(
        self,
        url: str | None = None,
        key: str = "tokenkit:client:session",
        *,
        lock_ttl: float = 30.0,
        client: Any = None,
    ) -> None:
        if client is None:
            try:
                import redis
            except ImportError:
                raise MissingDependency(
                    "RedisTokenStore needs the redis package: "
                    "pip install 'django-tokenkit[client-redis]'"
                ) from None
            if url is None:
                raise ValueError("RedisTokenStore needs a url or a client")
            client = redis.Redis.from_url(url)
        self.key = key
        self.lock_key = f"{key}:lock"
        self.lock_ttl = lock_ttl
        self._redis = client
        self._release = client.register_script(_RELEASE)

    @contextmanager
    def lock(self, timeout: float) -> Iterator[bool]:
        token = secrets.token_hex(16)
        ttl_ms = max(int(self.lock_ttl * 1000), 1)
        deadline = time.monotonic() + timeout
        acquired = False
        while True:
            if self._redis.set(self.lock_key, token, nx=True, px=ttl_ms):
                acquired = True
                break
            if time.monotonic() >= deadline:
                break
            time.sleep(LOCK_POLL_INTERVAL)
        try:
            yield acquired
        finally:
            if acquired:
                self._release(keys=[self.lock_key], args=[token])

    def _reference_time(self) -> float:
        seconds, microseconds = self._redis.time()
        return float(seconds) + float(microseconds) / 1_000_000

    def _read(self) -> tuple[Mapping[str, Any] | None, float]:
        pipeline = self._redis.pipeline(transaction=False)
        pipeline.get(self.key)
        pipeline.time()
        raw, (seconds, microseconds) = pipeline.execute()
        reference = float(seconds) + microseconds / 1_000_000
        if raw is None:
            return None, reference
        try:
            data = json.loads(raw)
        except ValueError:
            return {}, reference  # unreadable: load() logs it and treats the store as empty
        return (data if isinstance(data, dict) else {}), reference

    def _write(self, data: Mapping[str, Any], reference: float) -> None:
        expires_at = float(data.get("refresh_expires_at", reference))
        ttl_ms = max(int((expires_at - reference + EXPIRY_SLACK) * 1000), 1000)
        self._redis.set(self.key, json.dumps(data), px=ttl_ms)

    def _delete(self) -> None:
        self._redis.delete(self.key)

    def __repr__(self) -> str:
        return f"RedisTokenStore(key={self.key!r})"
