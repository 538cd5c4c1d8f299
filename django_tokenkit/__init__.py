"""django-tokenkit. Importing the package imports nothing else, Django included.

:mod:`django_tokenkit.client` must import without Django, so the stable
Python API of :mod:`django_tokenkit.api` (``issue_tokens``, ``revoke_user``,
...) is reachable here through a module ``__getattr__`` that imports it on
first use (PEP 562).
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

#: The names of django_tokenkit.api this package lends out.
_API = frozenset(
    {
        "IssuedAPIToken",
        "TokenPair",
        "create_api_token",
        "issue_tokens",
        "revoke_session",
        "revoke_token",
        "revoke_user",
    }
)


def __getattr__(name: str) -> Any:
    if name in _API:
        from django_tokenkit import api

        return getattr(api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
