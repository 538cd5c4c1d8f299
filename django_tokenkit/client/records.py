"""The tokens a client holds, timed on its own clock, and when to renew them.

A :class:`TokenRecord` is what a store keeps: the access and refresh tokens
and when each was received and expires, on the clock of the client that
holds it. Two margins, both a fraction of the token's own lifetime and so
always shorter than it (a fixed 60 s margin refreshes a 59 s token forever):

- *early*: from here on, the client refreshes in the background while the
  token still works (at most :data:`EARLY_MAX` before expiry, a quarter of
  the lifetime for short tokens);
- *spent*: from here on, a request would risk arriving after expiry, so the
  caller waits for a refresh (at most :data:`SPENT_MAX`, a tenth of the
  lifetime).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

EARLY_FRACTION = 0.25
#: The access token is refreshed in the background in its last minute at most.
EARLY_MAX = 60.0
#: A refresh token that sliding kept unused is refreshed in its last hour at most.
EARLY_MAX_REFRESH = 3600.0
SPENT_FRACTION = 0.1
SPENT_MAX = 5.0
#: ``expires_in`` is ``exp - iat`` in whole seconds (RFC 7519 NumericDate), both
#: truncated: up to a second of it may already be gone when the pair is issued.
NUMERIC_DATE_SLACK = 1.0

_FIELDS = (
    "access_received_at",
    "access_expires_at",
    "refresh_received_at",
    "refresh_expires_at",
)


def _usable(expires_in: float) -> float:
    """The part of ``expires_in`` we can count on (see :data:`NUMERIC_DATE_SLACK`)."""
    return max(expires_in - NUMERIC_DATE_SLACK, expires_in / 2)


def _margin(lifetime: float, fraction: float, cap: float) -> float:
    return min(cap, max(lifetime, 0.0) * fraction)


class MalformedPair(ValueError):
    """The auth server's answer is not a token pair (SPEC section 5)."""


@dataclass(frozen=True)
class TokenRecord:
    """A pair and its timing, in seconds on the holder's clock."""

    access: str
    refresh: str
    access_received_at: float
    access_expires_at: float
    refresh_received_at: float
    refresh_expires_at: float

    @classmethod
    def from_pair(cls, pair: Mapping[str, Any], now: float) -> TokenRecord:
        """Build a record from a ``token/`` or ``token/refresh/`` body received at ``now``.

        Raises :class:`MalformedPair` when a field is missing: without the
        refresh token in the body (the refresh-cookie mode is for browsers)
        the client could not keep the session alive.
        """
        try:
            access = pair["access"]
            refresh = pair["refresh"]
            expires_in = float(pair["expires_in"])
            refresh_expires_in = float(pair["refresh_expires_in"])
        except (KeyError, TypeError, ValueError) as error:
            raise MalformedPair(f"not a token pair: missing or bad {error}") from None
        if not isinstance(access, str) or not isinstance(refresh, str):
            raise MalformedPair("not a token pair: access and refresh must be strings")
        expires_in = _usable(expires_in)
        refresh_expires_in = _usable(refresh_expires_in)
        return cls(
            access=access,
            refresh=refresh,
            access_received_at=now,
            access_expires_at=now + expires_in,
            refresh_received_at=now,
            refresh_expires_at=now + refresh_expires_in,
        )

    def with_access(self, access: str, expires_in: float, now: float) -> TokenRecord:
        """This record with a renewed access token (``X-New-Token``); the refresh stays."""
        return replace(
            self, access=access, access_received_at=now, access_expires_at=now + expires_in
        )

    @property
    def access_lifetime(self) -> float:
        return self.access_expires_at - self.access_received_at

    @property
    def early_at(self) -> float:
        """When a background refresh should start (access or refresh token nearly spent)."""
        access_early = self.access_expires_at - _margin(
            self.access_lifetime, EARLY_FRACTION, EARLY_MAX
        )
        refresh_lifetime = self.refresh_expires_at - self.refresh_received_at
        refresh_early = self.refresh_expires_at - _margin(
            refresh_lifetime, EARLY_FRACTION, EARLY_MAX_REFRESH
        )
        return min(access_early, refresh_early)

    @property
    def spent_at(self) -> float:
        """When the access token can no longer be sent without waiting for a refresh."""
        return self.access_expires_at - _margin(self.access_lifetime, SPENT_FRACTION, SPENT_MAX)

    def to_data(self, offset: float) -> dict[str, Any]:
        """A JSON-able form whose times are on a reference clock ``offset`` ahead of ours.

        A store shared between machines keeps times on one clock (Redis's
        ``TIME`` for :class:`RedisTokenStore`), so a reader whose clock is
        skewed still sees the right time left.
        """
        data: dict[str, Any] = {"v": 1, "access": self.access, "refresh": self.refresh}
        for name in _FIELDS:
            data[name] = getattr(self, name) + offset
        return data

    @classmethod
    def from_data(cls, data: Mapping[str, Any], offset: float) -> TokenRecord | None:
        """The inverse of :meth:`to_data`; None for anything else (a corrupt entry)."""
        try:
            if data.get("v") != 1:
                return None
            times = {name: float(data[name]) - offset for name in _FIELDS}
            access, refresh = data["access"], data["refresh"]
        except (AttributeError, KeyError, TypeError, ValueError):
            return None
        if not isinstance(access, str) or not isinstance(refresh, str):
            return None
        return cls(access=access, refresh=refresh, **times)
