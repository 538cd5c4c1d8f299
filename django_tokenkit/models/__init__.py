"""What tokenkit records: sessions, issued refresh tokens, revoked token ids, API tokens.

No raw token or secret is ever stored. A token is found by its ``jti`` (a
random id that is useless without the signing key), and an API token by its
SHA-256 digest, so a database dump cannot be replayed as credentials.

The database is the source of truth for revocation; the shared cache only
makes reading it cheap (see :mod:`django_tokenkit.revocation`).

One module per job; every name is re-exported here, so
``from django_tokenkit.models import X`` is the import to use:

- :mod:`~django_tokenkit.models.status`: ``TokenStatus``, ``RevokeReason``
  and ``StatusQuerySet``, the base of each model's status rule;
- :mod:`~django_tokenkit.models.sessions`: ``Session``, ``IssuedToken``,
  ``BlacklistedToken`` and their querysets;
- :mod:`~django_tokenkit.models.outbox`: ``PendingRevocation``;
- :mod:`~django_tokenkit.models.api_tokens`: ``APIToken`` and
  ``APITokenExpiryWarning``.
"""

from __future__ import annotations

from django_tokenkit.models.api_tokens import APIToken, APITokenExpiryWarning, APITokenQuerySet
from django_tokenkit.models.outbox import PendingRevocation
from django_tokenkit.models.sessions import (
    BlacklistedToken,
    BlacklistedTokenQuerySet,
    IssuedToken,
    IssuedTokenQuerySet,
    Session,
    SessionQuerySet,
    TokenType,
)
from django_tokenkit.models.status import RevokeReason, StatusQuerySet, TokenStatus

__all__ = [
    "APIToken",
    "APITokenExpiryWarning",
    "APITokenQuerySet",
    "BlacklistedToken",
    "BlacklistedTokenQuerySet",
    "IssuedToken",
    "IssuedTokenQuerySet",
    "PendingRevocation",
    "RevokeReason",
    "Session",
    "SessionQuerySet",
    "StatusQuerySet",
    "TokenStatus",
    "TokenType",
]
