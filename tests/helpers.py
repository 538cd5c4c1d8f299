"""Plain helpers and constants the test modules share (fixtures live in conftest.py).

Test modules import from here, never from each other or from conftest.py:
pytest loads conftest.py itself, and a module imported twice under two names
would run its code twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from django.db import models
from rest_framework.test import APIClient

#: The password of the ``user`` and ``other_user`` fixtures.
PASSWORD = "correct horse battery staple"
LOGIN_URL = "/api/auth/token/"
#: tests/testapp's view answering with the authenticated user.
WHOAMI_URL = "/api/whoami/"
#: Where the ``frozen`` fixture stops the clock.
FROZEN_AT = datetime(2030, 1, 1, 12, 0, tzinfo=timezone.utc)


def login(client: APIClient, username: str = "alice", password: str = PASSWORD) -> dict[str, Any]:
    """Log in through the HTTP API and return the pair."""
    response = client.post(LOGIN_URL, {"username": username, "password": password}, format="json")
    assert response.status_code == 200, response.content
    data: dict[str, Any] = response.json()
    return data


def bearer(access: str) -> dict[str, Any]:
    """Request kwargs for an ``Authorization: Bearer`` header."""
    return {"HTTP_AUTHORIZATION": f"Bearer {access}"}


def get(client: APIClient, access: str, path: str = WHOAMI_URL) -> Any:
    """GET ``path`` with ``access`` as the bearer token."""
    return client.get(path, **bearer(access))


def whoami(client: APIClient, token: str | Mapping[str, Any]) -> Any:
    """GET the whoami view with an access token, or with a login pair's access token."""
    access = token if isinstance(token, str) else token["access"]
    return get(client, access)


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


def concrete_field(model: type[models.Model], name: str) -> models.Field[Any, Any]:
    """``model``'s field ``name``, checked to be a column (not a reverse relation)."""
    field = model._meta.get_field(name)
    assert isinstance(field, models.Field), f"{model.__name__}.{name} is not a column"
    return field


def has_db_index(field: models.Field[Any, Any]) -> bool:
    """Whether Django creates an index for ``field`` on its own (``db_index``)."""
    # Django sets Field.db_index in __init__; django-stubs does not declare it.
    return bool(field.db_index)  # type: ignore[attr-defined]
