"""Issue, refresh, renew, revoke and flush: the only writer of tokenkit's models, cache and signals.

Views, admin actions, management commands and receivers call these functions
instead of touching models, so every revocation fires the same signal and
clears the same cache keys whichever door it came through. One module per
lifecycle:

- :mod:`~django_tokenkit.services.issue`: login and the pair it issues;
- :mod:`~django_tokenkit.services.rotation`: refresh rotation and reuse detection
  (not ``refresh.py``: a submodule of that name would shadow the
  ``services.refresh`` function once imported);
- :mod:`~django_tokenkit.services.sliding`: sliding renewal, the read-mostly
  path the middleware imports alone;
- :mod:`~django_tokenkit.services.revocation`: every revocation, and
  :func:`~django_tokenkit.services.revocation.lock_sessions`, the lock order;
- :mod:`~django_tokenkit.services.flush`: deleting what nothing can use.

``from django_tokenkit import services`` then ``services.login(...)`` or
``services.revoke_user(...)`` keeps working: each public name is imported
from its module on first use (PEP 562), so importing the package imports no
lifecycle the caller does not use. Inside the package, import from the
module itself.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django_tokenkit.services.flush import (
        FLUSH_KINDS,
        FlushProgress,
        count_expired,
        flush_expired,
    )
    from django_tokenkit.services.issue import TokenPair, client_details, login
    from django_tokenkit.services.revocation import (
        lock_sessions,
        logout,
        revoke_issued_tokens,
        revoke_jti,
        revoke_session_id,
        revoke_sessions,
        revoke_token,
        revoke_user,
        revoke_users,
        revoke_users_and_api_tokens,
    )
    from django_tokenkit.services.rotation import refresh
    from django_tokenkit.services.sliding import needs_renewal, renew_access_token, sliding_key

#: Each public name and the module of this package that defines it.
_HOMES = {
    "TokenPair": "issue",
    "client_details": "issue",
    "login": "issue",
    "refresh": "rotation",
    "needs_renewal": "sliding",
    "renew_access_token": "sliding",
    "sliding_key": "sliding",
    "lock_sessions": "revocation",
    "logout": "revocation",
    "revoke_issued_tokens": "revocation",
    "revoke_jti": "revocation",
    "revoke_session_id": "revocation",
    "revoke_sessions": "revocation",
    "revoke_token": "revocation",
    "revoke_user": "revocation",
    "revoke_users": "revocation",
    "revoke_users_and_api_tokens": "revocation",
    "FLUSH_KINDS": "flush",
    "FlushProgress": "flush",
    "count_expired": "flush",
    "flush_expired": "flush",
}

__all__ = [
    "FLUSH_KINDS",
    "FlushProgress",
    "TokenPair",
    "client_details",
    "count_expired",
    "flush_expired",
    "lock_sessions",
    "login",
    "logout",
    "needs_renewal",
    "refresh",
    "renew_access_token",
    "revoke_issued_tokens",
    "revoke_jti",
    "revoke_session_id",
    "revoke_sessions",
    "revoke_token",
    "revoke_user",
    "revoke_users",
    "revoke_users_and_api_tokens",
    "sliding_key",
]


def __getattr__(name: str) -> Any:
    """Import ``name`` from its lifecycle module on first use (PEP 562)."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value  # the next lookup skips this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
