"""The Python client for a tokenkit server (SPEC section 6, "Clients").

Imports nothing from Django or Django REST framework, so a script or another
service can use it with only ``requests`` or ``httpx`` installed
(``pip install 'django-tokenkit[client]'``; ``[client-redis]`` adds Redis
for :class:`RedisTokenStore`)::

    from django_tokenkit.client import TokenkitAuth

    auth = TokenkitAuth("https://api.example.com/api/auth/", username="bot", password="...")
    requests.get("https://api.example.com/api/me/", auth=auth)
"""

from __future__ import annotations

from django_tokenkit.client.api_tokens import APITokenAuth
from django_tokenkit.client.auth import TokenkitAuth
from django_tokenkit.client.clock import Backoff
from django_tokenkit.client.errors import (
    APITokenError,
    APITokenExpired,
    APITokenRevoked,
    LoginFailed,
    MissingDependency,
    NotLoggedIn,
    ServerUnavailable,
    SessionEnded,
    TokenkitClientError,
    UnexpectedResponse,
)
from django_tokenkit.client.records import TokenRecord
from django_tokenkit.client.redis_store import RedisTokenStore
from django_tokenkit.client.stats import ClientStats
from django_tokenkit.client.stores import FileTokenStore, MemoryTokenStore, TokenStore

__all__ = [
    "APITokenAuth",
    "APITokenError",
    "APITokenExpired",
    "APITokenRevoked",
    "Backoff",
    "ClientStats",
    "FileTokenStore",
    "LoginFailed",
    "MemoryTokenStore",
    "MissingDependency",
    "NotLoggedIn",
    "RedisTokenStore",
    "ServerUnavailable",
    "SessionEnded",
    "TokenRecord",
    "TokenStore",
    "TokenkitAuth",
    "TokenkitClientError",
    "UnexpectedResponse",
]
