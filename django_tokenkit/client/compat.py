"""Base classes from the optional HTTP libraries, or stand-ins when they are missing.

:class:`~django_tokenkit.client.TokenkitAuth` must be an ``httpx.Auth`` for
httpx to run its flows (httpx wraps any other callable as a plain function)
and a callable for requests. Neither library is required: with one missing,
the object simply cannot be used with it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from httpx import Auth as HttpxAuth
    from requests.auth import AuthBase as RequestsAuthBase
else:
    try:
        from httpx import Auth as HttpxAuth
    except ImportError:

        class HttpxAuth:
            """Stand-in: httpx is not installed."""

    try:
        from requests.auth import AuthBase as RequestsAuthBase
    except ImportError:

        class RequestsAuthBase:
            """Stand-in: requests is not installed."""


__all__ = ["HttpxAuth", "RequestsAuthBase"]
