"""Cache backends for tests that must prove a code path never touches the cache."""

from __future__ import annotations

from typing import Any

from django.core.cache.backends.base import BaseCache


class ExplodingCache(BaseCache):
    """Fails the test on any use: configure it where nothing may reach the cache."""

    def __init__(self, location: str, params: dict[str, Any]) -> None:
        super().__init__(params)

    def __getattribute__(self, name: str) -> Any:
        if name in {
            "get",
            "get_many",
            "set",
            "add",
            "delete",
            "set_many",
            "incr",
            "touch",
            "has_key",
            "clear",
        }:
            raise AssertionError(f"the cache was touched ({name})")
        return super().__getattribute__(name)
