"""Helpers the admin tests share: URLs, rows made through services, form posts."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from rest_framework.test import APIClient

from django_tokenkit import services, tokens
from django_tokenkit.models import BlacklistedToken, Session
from django_tokenkit.services import api_tokens
from tests.helpers import PASSWORD, bearer

SESSIONS_URL = "/admin/tokenkit/session/"
TOKENS_URL = "/admin/tokenkit/issuedtoken/"
BLACKLIST_URL = "/admin/tokenkit/blacklistedtoken/"
API_TOKENS_URL = "/admin/tokenkit/apitoken/"
USERS_URL = "/admin/auth/user/"
WHOAMI_URL = "/api/whoami/"

on_postgres = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL: the row estimate comes from pg_class",
)


def sid_of(pair: dict[str, Any]) -> str:
    return tokens.decode(pair["access"], tokens.ACCESS).sid


def whoami(pair: dict[str, Any]) -> Any:
    return APIClient().get(WHOAMI_URL, **bearer(pair["access"]))


def make_users(count: int, prefix: str = "user") -> list[Any]:
    return [
        get_user_model().objects.create_user(
            username=f"{prefix}{i}", email=f"{prefix}{i}@example.com", password=PASSWORD
        )
        for i in range(count)
    ]


def make_sessions(count: int, users: list[Any]) -> list[Session]:
    """``count`` sessions spread over ``users``, each with a refresh token on record."""
    created = []
    for i in range(count):
        services.login(users[i % len(users)])
        created.append(Session.objects.order_by("-created_at").first())
    return [s for s in created if s is not None]


def blacklist_each(sessions: list[Session]) -> None:
    """One blacklist entry per session, as if one access token of each was revoked."""
    BlacklistedToken.objects.bulk_create(
        BlacklistedToken(
            jti=uuid.uuid4().hex,
            token_type="access",
            user_id=session.user_id,
            session=session,
            expires_at=session.expires_at,
        )
        for session in sessions
    )


def make_api_tokens(
    count: int, users: list[Any], expires_in: timedelta | None = timedelta(days=30)
) -> list[api_tokens.IssuedAPIToken]:
    """``count`` API tokens spread over ``users``, made through the service."""
    return [
        api_tokens.create(users[i % len(users)], name=f"job {i}", expires_in=expires_in)
        for i in range(count)
    ]


def with_api_token(token: str) -> Any:
    """GET the whoami view with an API token."""
    return APIClient().get(WHOAMI_URL, **bearer(token))


def action_post(client: Client, url: str, action: str, pks: list[Any], **extra: str) -> Any:
    data = {"action": action, ACTION_CHECKBOX_NAME: [str(pk) for pk in pks], **extra}
    return client.post(url, data)


def revoke_url(changelist: str, pk: Any) -> str:
    return f"{changelist}{pk}/revoke/"
