"""Helpers for testing your own API: a signed-in test client without a login round trip.

::

    from django_tokenkit.testing import authenticate

    def test_profile(client, django_user_model):
        user = django_user_model.objects.create_user("alice")
        authenticate(client, user)
        assert client.get("/api/me/").status_code == 200

:func:`authenticate` mints a real pair with :func:`django_tokenkit.api.issue_tokens`
(a session row, the ``CUSTOM_CLAIMS`` hook, the ``token_obtained`` signal):
the token your views see is the token production sends, but no password is
hashed and the login throttle is never counted. Works with Django's test
``Client`` and DRF's ``APIClient``. Needs the database (pytest-django's
``db`` fixture, or a ``TestCase``).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.test import Client

from django_tokenkit.api import issue_tokens
from django_tokenkit.services.issue import TokenPair

AUTHORIZATION = "HTTP_AUTHORIZATION"


def authenticate(client: Client, user: AbstractBaseUser) -> TokenPair:
    """Sign ``client`` in as ``user``: every later request carries ``Bearer <access>``.

    Returns the pair, so a test can also refresh or log out with
    ``pair.refresh``. With DRF's ``APIClient`` the header is set through
    ``client.credentials()``, which replaces credentials set earlier.
    """
    pair = issue_tokens(user)
    set_bearer(client, pair.access)
    return pair


def set_bearer(client: Client, access: str) -> None:
    """Send ``Authorization: Bearer <access>`` with every later request of ``client``."""
    credentials: Any = getattr(client, "credentials", None)
    if callable(credentials):  # rest_framework.test.APIClient
        credentials(**{AUTHORIZATION: f"Bearer {access}"})
    else:
        client.defaults[AUTHORIZATION] = f"Bearer {access}"


def unauthenticate(client: Client) -> None:
    """Send no ``Authorization`` header any more (the session itself is not ended)."""
    credentials: Any = getattr(client, "credentials", None)
    if callable(credentials):
        credentials()
    client.defaults.pop(AUTHORIZATION, None)
