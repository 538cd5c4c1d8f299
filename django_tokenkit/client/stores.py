"""Where a session's tokens live: memory, a file, or Redis (:mod:`.redis_store`).

A store holds one :class:`~django_tokenkit.client.records.TokenRecord` and a
lock. The client takes the lock around a refresh and re-reads the store
inside it, so of several processes sharing a store the first refreshes and
the others find its result rather than refreshing again (which, after the
grace period, the server would treat as reuse and end the session).

Times are kept on a reference clock of the store's (the system clock for
memory and files, Redis's ``TIME`` for Redis) and translated to and from the
client's own clock on every read and write, so clients with differently
skewed clocks can share one store.

To write your own store, subclass :class:`TokenStore` and implement
``_read``, ``_write``, ``_delete`` and ``lock``; override
``_reference_time`` when the store is shared between machines.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from django_tokenkit.client.records import TokenRecord

logger = logging.getLogger(__name__)

#: How often a process waiting for another's lock looks again.
LOCK_POLL_INTERVAL = 0.02


class TokenStore(ABC):
    """Keeps one session's tokens, and a lock that one refresher at a time holds."""

    def load(self, now: float) -> TokenRecord | None:
        """The stored record, with its times on a clock reading ``now``; None if empty."""
        data, reference = self._read()
        if data is None:
            return None
        record = TokenRecord.from_data(data, reference - now)
        if record is None:
            logger.warning("tokenkit client: ignoring an unreadable entry in %r", self)
        return record

    def save(self, record: TokenRecord, now: float) -> None:
        """Store ``record``, whose times are on a clock reading ``now``."""
        reference = self._reference_time()
        self._write(record.to_data(reference - now), reference)

    def clear(self, *, if_refresh: str | None = None) -> None:
        """Forget the session; with ``if_refresh``, only if it still holds that refresh token.

        Call it with the lock held when ``if_refresh`` is given.
        """
        if if_refresh is not None:
            data, _ = self._read()
            if data is None or data.get("refresh") != if_refresh:
                return
        self._delete()

    @abstractmethod
    @contextmanager
    def lock(self, timeout: float) -> Iterator[bool]:
        """Hold the store's lock for the block; yields whether it was acquired.

        Waits at most ``timeout`` seconds (0: one try). A caller that did not
        get it decides whether to go on without it.
        """

    def _reference_time(self) -> float:
        return time.time()

    @abstractmethod
    def _read(self) -> tuple[Mapping[str, Any] | None, float]:
        """The stored data (or None) and the reference clock's time when it was read."""

    @abstractmethod
    def _write(self, data: Mapping[str, Any], reference: float) -> None:
        """Replace the stored data; ``reference`` is the reference clock's time now."""

    @abstractmethod
    def _delete(self) -> None:
        """Remove the stored data, if any."""


class MemoryTokenStore(TokenStore):
    """The default: this process only. Share one between several ``TokenkitAuth`` objects
    to give them one session."""

    def __init__(self) -> None:
        self._data: dict[str, Any] | None = None
        self._lock = threading.Lock()

    @contextmanager
    def lock(self, timeout: float) -> Iterator[bool]:
        acquired = self._lock.acquire(timeout=timeout) if timeout > 0 else self._lock.acquire(False)
        try:
            yield acquired
        finally:
            if acquired:
                self._lock.release()

    def _read(self) -> tuple[Mapping[str, Any] | None, float]:
        return (dict(self._data) if self._data is not None else None), time.time()

    def _write(self, data: Mapping[str, Any], reference: float) -> None:
        self._data = dict(data)

    def _delete(self) -> None:
        self._data = None

    def __repr__(self) -> str:
        return "MemoryTokenStore()"


class FileTokenStore(TokenStore):
    """A JSON file, for command-line tools and scheduled jobs (POSIX only).

    The file is created with permissions 0600 and replaced atomically
    (written to a temporary file in the same directory, synced, then
    renamed), so a reader never sees half a file and a crash never loses the
    rotated refresh token. The lock is an ``fcntl.flock`` on a sibling
    ``<path>.lock`` file, which works between the threads and processes of
    one machine (not on network file systems; use Redis there).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.lock_path = self.path.with_name(self.path.name + ".lock")

    @contextmanager
    def lock(self, timeout: float) -> Iterator[bool]:
        import fcntl  # POSIX only; imported here so the module imports everywhere

        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        acquired = False
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    acquired = True
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        break
                    time.sleep(LOCK_POLL_INTERVAL)
            yield acquired
        finally:
            if acquired:
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _read(self) -> tuple[Mapping[str, Any] | None, float]:
        now = time.time()
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None, now
        try:
            data = json.loads(text)
        except ValueError:
            return {}, now  # unreadable: load() logs it and treats the store as empty
        return (data if isinstance(data, dict) else {}), now

    def _write(self, data: Mapping[str, Any], reference: float) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # mkstemp creates the file 0600; rename keeps those permissions.
        fd, temporary = tempfile.mkstemp(
            dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp"
        )
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            with suppress(OSError):
                os.unlink(temporary)
            raise

    def _delete(self) -> None:
        self.path.unlink(missing_ok=True)

    def __repr__(self) -> str:
        return f"FileTokenStore({str(self.path)!r})"
