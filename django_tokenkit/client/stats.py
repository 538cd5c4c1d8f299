"""What a client did, counted per process: for logs, tests and benchmarks."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class ClientStats:
    """What this process's client did; ``TokenkitAuth.stats`` is the live one."""

    logins: int = 0
    refresh_calls: int = 0
    refreshes: int = 0
    renewals_adopted: int = 0
    adopted_from_store: int = 0
    retries: int = 0
