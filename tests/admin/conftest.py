"""Fixtures of the admin tests: a view-only staff user, and the revocation signals received."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client

from django_tokenkit import signals
from tests.helpers import PASSWORD


@pytest.fixture
def staff_viewer(db: Any) -> Any:
    """A staff user who may view tokenkit's pages but not change (so not revoke)."""
    viewer = get_user_model().objects.create_user(
        username="viewer", email="viewer@example.com", password=PASSWORD, is_staff=True
    )
    viewer.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="tokenkit", codename__startswith="view_"
        ),
        Permission.objects.get(codename="view_user"),
    )
    return viewer


@pytest.fixture
def viewer_client(staff_viewer: Any) -> Client:
    client = Client()
    client.force_login(staff_viewer)
    return client


@pytest.fixture
def revoked_signals() -> Iterator[list[dict[str, Any]]]:
    received: list[dict[str, Any]] = []

    def receiver(**kwargs: Any) -> None:
        received.append(kwargs)

    signals.token_revoked.connect(receiver)
    yield received
    signals.token_revoked.disconnect(receiver)
