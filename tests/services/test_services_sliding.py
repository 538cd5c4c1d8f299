"""Sliding renewal (:mod:`django_tokenkit.services.sliding`), the middleware's only service."""

from __future__ import annotations

import ast
import importlib.util
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from rest_framework.test import APIClient

from django_tokenkit import tokens
from django_tokenkit.models import Session
from django_tokenkit.services import sliding
from tests.helpers import FROZEN_AT, login
from tests.keypairs import ALGORITHMS, assert_same_token, signing_settings

#: The lifecycles that write on every call; the middleware must not import them.
WRITERS = {
    "django_tokenkit.services.issue",
    "django_tokenkit.services.rotation",
    "django_tokenkit.services.revocation",
    "django_tokenkit.services.flush",
}


@pytest.fixture
def logged_in(frozen: Any, api_client: APIClient, user: Any) -> dict[str, Any]:
    return login(api_client)


@pytest.fixture(params=ALGORITHMS)
def algorithm(request: pytest.FixtureRequest, settings: Any) -> str:
    """Sign with each algorithm in turn; the renewal guarantee must hold for all."""
    name: str = request.param
    settings.TOKENKIT = signing_settings(name, **settings.TOKENKIT)
    return name


def _is_module(name: str) -> bool:
    """False for ``package.function`` (``from package import function``)."""
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # the parent is a module, not a package
        return False


def _imported_at_load(module: str) -> set[str]:
    """The ``django_tokenkit`` modules ``module`` imports when it loads, transitively.

    Only module-level imports count: an import inside a function runs when
    it is called, not when the middleware is loaded.
    """
    seen: set[str] = set()
    pending = [module]
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        spec = importlib.util.find_spec(name)
        assert spec is not None, name
        assert spec.origin is not None, name
        tree = ast.parse(Path(spec.origin).read_text())
        parents = [name.rpartition(".")[0]] if "." in name else []
        for node in tree.body:
            if isinstance(node, ast.ImportFrom) and node.module:
                targets = [node.module]
                targets += [f"{node.module}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                continue
            for target in [*parents, *targets]:
                if target.startswith("django_tokenkit") and _is_module(target):
                    pending.append(target)
    return seen


def test_middleware_imports_no_writing_lifecycle() -> None:
    loaded = _imported_at_load("django_tokenkit.middleware")

    assert "django_tokenkit.services.sliding" in loaded
    assert loaded.isdisjoint(WRITERS), sorted(loaded & WRITERS)


def test_needs_renewal_only_within_threshold_and_only_access_tokens(
    logged_in: dict[str, Any],
) -> None:
    access = tokens.decode(logged_in["access"], tokens.ACCESS)
    refresh = tokens.decode(logged_in["refresh"], tokens.REFRESH)

    assert sliding.needs_renewal(access, FROZEN_AT) is False
    assert sliding.needs_renewal(access, FROZEN_AT + timedelta(minutes=10)) is True
    assert sliding.needs_renewal(refresh, refresh.expires_at) is False


def test_renew_access_token_same_old_token_same_new_token_last_use_recorded_once(
    algorithm: str, logged_in: dict[str, Any], frozen: Any
) -> None:
    old = tokens.decode(logged_in["access"], tokens.ACCESS)
    frozen.shift(timedelta(minutes=11))
    first = sliding.renew_access_token(old)
    frozen.shift(timedelta(seconds=20))
    second = sliding.renew_access_token(old)

    assert first is not None
    assert second is not None
    assert_same_token(algorithm, first[0], second[0])
    assert first[1].claims == second[1].claims
    assert (first[1].sid, first[1].auth_time) == (old.sid, old.auth_time)
    assert first[1].jti != old.jti
    assert Session.objects.get().last_used_at == FROZEN_AT + timedelta(minutes=11)


def test_renew_access_token_unreachable_cache_returns_none(
    logged_in: dict[str, Any], frozen: Any, settings: Any
) -> None:
    settings.CACHES = {
        **settings.CACHES,
        "broken": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2},
        },
    }
    settings.TOKENKIT = {"CACHE_ALIAS": "broken"}
    old = tokens.decode(logged_in["access"], tokens.ACCESS)
    frozen.shift(timedelta(minutes=11))

    assert sliding.renew_access_token(old) is None


def test_renew_access_token_concurrent_threads_get_one_new_token(
    algorithm: str, logged_in: dict[str, Any], frozen: Any, transactional_db: Any
) -> None:
    frozen.shift(timedelta(minutes=11))
    old = tokens.decode(logged_in["access"], tokens.ACCESS)
    results: list[str | None] = []
    barrier = threading.Barrier(8)

    def renew() -> None:
        barrier.wait()
        try:
            renewal = sliding.renew_access_token(old)
            results.append(renewal[0] if renewal else None)
        finally:
            connection.close()

    threads = [threading.Thread(target=renew) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 8
    assert None not in results
    for result in results[1:]:
        assert result is not None
        assert results[0] is not None
        assert_same_token(algorithm, results[0], result)
