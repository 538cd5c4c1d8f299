"""Shared fixtures: users, an API client, a login pair, a frozen clock.

Plain helper functions and constants are in :mod:`tests.helpers`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import BaseCache, caches
from rest_framework.test import APIClient

from django_tokenkit import api_token_store, outbox, tokens
from django_tokenkit.services import api_tokens as api_token_services
from tests.e2e import SharedServices, shared_services
from tests.faults import REDIS_SERVER, PrivateRedis, free_port
from tests.helpers import FROZEN_AT, PASSWORD, login
from tests.redis_backends import REDIS_ALIAS, REDIS_BACKENDS, redis_cache_config


@pytest.fixture(autouse=True)
def _clear_cache() -> Iterator[None]:
    """Every test starts with an empty shared cache (Redis included)."""
    caches["default"].clear()
    yield
    caches["default"].clear()


@pytest.fixture(autouse=True)
def _forget_verified_tokens() -> Iterator[None]:
    """No test sees a token verification remembered by another test."""
    tokens.forget_verified_tokens()
    yield
    tokens.forget_verified_tokens()


@pytest.fixture(autouse=True)
def _forget_outbox_reads() -> Iterator[None]:
    """Each test starts in the steady state: the outbox read a moment ago, empty."""
    outbox.forget(read_at=outbox.clock())
    yield
    outbox.forget()


@pytest.fixture(autouse=True)
def _forget_api_token_memory() -> Iterator[None]:
    """No test sees which tokens another test used or whose they were."""
    api_token_store.forget_owners()
    api_token_services.forget_uses()
    yield
    api_token_store.forget_owners()
    api_token_services.forget_uses()


@pytest.fixture
def user(db: Any) -> Any:
    return get_user_model().objects.create_user(
        username="alice", email="alice@example.com", password=PASSWORD
    )


@pytest.fixture
def other_user(db: Any) -> Any:
    return get_user_model().objects.create_user(
        username="bob", email="bob@example.com", password=PASSWORD
    )


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def pair(api_client: APIClient, user: Any) -> dict[str, Any]:
    return login(api_client)


@pytest.fixture
def frozen(time_machine: Any) -> Any:
    """Time stands still at ``FROZEN_AT`` until the test moves it; returns the traveller."""
    time_machine.move_to(FROZEN_AT, tick=False)
    return time_machine


@pytest.fixture(scope="session")
def e2e_services() -> Iterator[SharedServices]:
    """A fresh PostgreSQL database and Redis db for the multi-process tests.

    Skips the test when the services half's ``DATABASE_URL`` and
    ``REDIS_URL`` are not set (see :func:`tests.e2e.service_urls`).
    """
    with shared_services() as services:
        yield services


@pytest.fixture(scope="session")
def redis_location() -> Iterator[str]:
    """``REDIS_URL`` in the services half; elsewhere a private ``redis-server``."""
    url = os.environ.get("REDIS_URL")
    if url:
        yield url
        return
    if REDIS_SERVER is None:
        pytest.skip("needs REDIS_URL or the redis-server binary")
    server = PrivateRedis(port=free_port())
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(params=sorted(REDIS_BACKENDS))
def redis_cache(request: Any, settings: Any, redis_location: str) -> Iterator[BaseCache]:
    """tokenkit's cache is Redis through each supported backend in turn, emptied around."""
    settings.CACHES = {
        **settings.CACHES,
        REDIS_ALIAS: redis_cache_config(REDIS_BACKENDS[request.param], redis_location),
    }
    settings.TOKENKIT = {**settings.TOKENKIT, "CACHE_ALIAS": REDIS_ALIAS}
    cache = caches[REDIS_ALIAS]
    cache.clear()
    yield cache
    cache.clear()
