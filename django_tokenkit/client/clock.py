"""Time, as the client sees it: its own clock, and how long to back off.

Expiry is timed on the client's own clock from ``expires_in`` at receipt,
never by comparing the server's ``exp`` claim with the local clock: a client
whose clock is an hour off would otherwise think every token expired (a
refresh storm) or never expired (a 401 on every request). The clock is
injectable so tests (and users with odd needs) can skew it.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

#: Seconds since the epoch, on whatever scale the client likes; only differences matter.
Clock = Callable[[], float]


def system_clock() -> float:
    """The default clock: wall-clock seconds, so a file store outlives the process."""
    return time.time()


@dataclass(frozen=True)
class Backoff:
    """Exponential back-off with jitter for passing failures (network, 5xx, 429).

    ``budget`` bounds how long a blocked request waits for the auth server in
    all before :class:`~django_tokenkit.client.errors.ServerUnavailable` is
    raised. A ``Retry-After`` longer than ``maximum`` is honoured as long as
    it fits in the budget.
    """

    initial: float = 0.5
    maximum: float = 10.0
    factor: float = 2.0
    budget: float = 60.0
    jitter: float = 0.2

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before attempt ``attempt + 1`` (``attempt`` counts from 0)."""
        base = min(self.initial * self.factor**attempt, self.maximum)
        # Jitter spreads the retries of many clients that failed at once.
        base *= 1 + random.uniform(-self.jitter, self.jitter)  # not a secret: spreading only
        if retry_after is not None:
            return max(base, retry_after)
        return base


def retry_after_seconds(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """The ``Retry-After`` header (RFC 9110 section 10.2.3) in seconds, or None.

    It is either a number of seconds or an HTTP date; a date is compared with
    the system clock, since the server wrote it on its own clock.
    """
    raw = headers.get("Retry-After") or headers.get("retry-after")
    if not raw:
        return None
    raw = raw.strip()
    if raw.isdigit():
        return float(raw)
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    reference = time.time() if now is None else now
    return max(when.timestamp() - reference, 0.0)


def parse_rfc3339(value: str) -> datetime | None:
    """A UTC timestamp such as ``2026-01-31T12:00:00Z``, or None when malformed."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed
