"""Shared fixtures: users, an API client, and helpers to log in."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import caches
from rest_framework.test import APIClient

from django_tokenkit import api_token_store, outbox, tokens
from django_tokenkit.services import api_tokens as api_token_services
from tests.e2e import SharedServices, shared_services

PASSWORD = "correct horse battery staple"


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


def login(client: APIClient, username: str = "alice", password: str = PASSWORD) -> dict[str, Any]:
    """Log in through the HTTP API and return the pair."""
    response = client.post(
        "/api/auth/token/", {"username": username, "password": password}, format="json"
    )
    assert response.status_code == 200, response.content
    data: dict[str, Any] = response.json()
    return data


@pytest.fixture
def pair(api_client: APIClient, user: Any) -> dict[str, Any]:
    return login(api_client)


def bearer(access: str) -> dict[str, Any]:
    """Request kwargs for an ``Authorization: Bearer`` header."""
    return {"HTTP_AUTHORIZATION": f"Bearer {access}"}


def assert_unauthorized(response: Any, code: str, *, token_presented: bool = True) -> None:
    """A 401 with ``code`` and the RFC 6750 challenge SPEC section 5 prescribes."""
    assert response.status_code == 401, response.content
    assert response.json()["code"] == code
    challenge = response["WWW-Authenticate"]
    if token_presented:
        assert challenge.startswith(
            'Bearer realm="api", error="invalid_token", error_description="'
        )
    else:
        assert challenge == 'Bearer realm="api"'


@pytest.fixture(scope="session")
def e2e_services() -> Iterator[SharedServices]:
    """A fresh PostgreSQL database and Redis db for the multi-process tests.

    Skips the test when the services half's ``DATABASE_URL`` and
    ``REDIS_URL`` are not set (see :func:`tests.e2e.service_urls`).
    """
    with shared_services() as services:
        yield services
