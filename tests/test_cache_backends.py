"""tokenkit on Redis through either backend: django-redis or Django's RedisCache.

The ``redis_cache`` fixture runs each test against both backends. The first
tests pin what :func:`django_tokenkit.cache.redis_client` relies on, Django's
RedisCache's private ``_cache.get_client(key, write=...)`` among it, on every
Django the suite runs with (the tox matrix). A cache with several servers is
given two databases of one private ``redis-server`` as its "primary" and
"replica": the replica never catches up, the worst a lagging one can do.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis
from django.core.cache import BaseCache, caches
from rest_framework.test import APIClient

from django_tokenkit import users
from django_tokenkit.cache import redis_client
from tests.faults import REDIS_SERVER, PrivateRedis, free_port
from tests.helpers import LOGIN_URL, PASSWORD, assert_unauthorized, login, whoami
from tests.redis_backends import REDIS_BACKENDS, redis_cache_config

LOGOUT_URL = "/api/auth/logout/"
needs_redis_server = pytest.mark.skipif(
    REDIS_SERVER is None, reason="needs the redis-server binary"
)


@pytest.fixture(scope="module")
def two_databases() -> Iterator[tuple[str, str]]:
    """Two databases of a private server: a primary and a replica that never catches up."""
    server = PrivateRedis(port=free_port())
    server.start()
    try:
        yield server.url, server.url[: -len("/0")] + "/1"
    finally:
        server.stop()


@pytest.fixture(params=sorted(REDIS_BACKENDS))
def replicated(
    request: Any, settings: Any, two_databases: tuple[str, str]
) -> Iterator[tuple[BaseCache, redis.Redis, redis.Redis]]:
    """A cache "replicated" whose LOCATION names a primary and a replica; raw clients of both."""
    settings.CACHES = {
        **settings.CACHES,
        "replicated": redis_cache_config(REDIS_BACKENDS[request.param], list(two_databases)),
    }
    primary, replica = (redis.Redis.from_url(url) for url in two_databases)
    try:
        yield caches["replicated"], primary, replica
    finally:
        primary.flushdb()
        replica.flushdb()
        primary.close()
        replica.close()


# --- redis_client -------------------------------------------------------------


@needs_redis_server
def test_redis_client_for_writing_is_the_primary_of_either_backend(
    replicated: tuple[BaseCache, redis.Redis, redis.Redis],
) -> None:
    _, primary, replica = replicated
    client = redis_client(write=True, alias="replicated")

    assert isinstance(client, redis.Redis)
    client.set("written", "here")
    assert primary.get("written") == b"here"
    assert replica.get("written") is None


@needs_redis_server
def test_redis_client_for_reading_is_where_the_backend_reads(
    replicated: tuple[BaseCache, redis.Redis, redis.Redis],
) -> None:
    cache, primary, replica = replicated
    replica.set("seen-on", "replica")

    client = redis_client(write=False, alias="replicated")

    assert isinstance(client, redis.Redis)
    assert client.get("seen-on") == b"replica"


@needs_redis_server
def test_redis_cache_with_a_replica_reads_a_revocation_back_as_absent(
    replicated: tuple[BaseCache, redis.Redis, redis.Redis],
) -> None:
    """Why check tokenkit.E010 refuses such a cache: the write is not where reads go."""
    cache, primary, _ = replicated
    cache.set("tokenkit:sid:1", "revoked", timeout=60)

    assert primary.exists(cache.make_key("tokenkit:sid:1")) == 1
    assert cache.get("tokenkit:sid:1") is None
    assert cache.get_many(["tokenkit:sid:1"]) == {}


def test_redis_client_of_tokenkit_cache_is_its_backend_client(redis_cache: BaseCache) -> None:
    client = redis_client(write=True)

    assert isinstance(client, redis.Redis)
    redis_cache.set("shared", 1)
    assert client.exists(redis_cache.make_key("shared")) == 1


@pytest.mark.parametrize(
    "backend",
    [
        "django.core.cache.backends.locmem.LocMemCache",
        "django.core.cache.backends.dummy.DummyCache",
    ],
)
def test_redis_client_of_a_cache_that_is_not_redis_is_none(settings: Any, backend: str) -> None:
    settings.CACHES = {**settings.CACHES, "other": {"BACKEND": backend}}
    settings.TOKENKIT = {**settings.TOKENKIT, "CACHE_ALIAS": "other"}

    assert redis_client(write=True) is None


def test_redis_client_of_django_redis_shard_client_is_none(settings: Any) -> None:
    settings.CACHES = {
        **settings.CACHES,
        "shards": {
            "BACKEND": REDIS_BACKENDS["django_redis"],
            "LOCATION": ["redis://127.0.0.1:1/0", "redis://127.0.0.1:2/0"],
            "OPTIONS": {"CLIENT_CLASS": "django_redis.client.ShardClient"},
        },
    }

    assert redis_client(write=True, alias="shards") is None


# --- the stores on either backend ---------------------------------------------


def test_redis_backend_user_cache_serves_the_user_then_sees_a_deactivation(
    redis_cache: BaseCache,
    api_client: APIClient,
    user: Any,
    django_assert_num_queries: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    pair = login(api_client)
    assert whoami(api_client, pair).status_code == 200
    assert isinstance(redis_cache.get(users.user_key(user.pk)), type(user))
    with django_assert_num_queries(0):
        assert whoami(api_client, pair).status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        user.is_active = False
        user.save()

    assert_unauthorized(whoami(api_client, pair), "token_revoked")


def test_redis_backend_logout_is_refused_on_the_next_request(
    redis_cache: BaseCache,
    api_client: APIClient,
    user: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    pair = login(api_client)
    assert whoami(api_client, pair).status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(LOGOUT_URL, {"refresh": pair["refresh"]}, format="json")
    assert response.status_code == 204

    assert_unauthorized(whoami(api_client, pair), "token_revoked")


def test_redis_backend_login_throttle_counts_in_tokenkit_cache(
    redis_cache: BaseCache, api_client: APIClient, user: Any, settings: Any
) -> None:
    settings.TOKENKIT = {**settings.TOKENKIT, "LOGIN_THROTTLE_RATE": "2/min"}
    body = {"username": "alice", "password": PASSWORD}

    responses = [api_client.post(LOGIN_URL, body, format="json") for _ in range(3)]

    assert [response.status_code for response in responses] == [200, 200, 429]
    assert responses[2].json()["code"] == "throttled"
    assert len(redis_cache.get("throttle_tokenkit_login_127.0.0.1")) == 2
