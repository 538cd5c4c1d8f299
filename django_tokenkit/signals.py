"""The public signals. Each is sent by :mod:`django_tokenkit.services` only.

Receivers get keyword arguments; none of them is ever a raw token.

- ``token_obtained(user, session, request)``: a login issued a pair.
- ``token_refreshed(user, session, request, rotated)``: a refresh issued a pair.
- ``token_reissued(user_id, sid, jti, old_jti)``: sliding expiration renewed the
  access token ``old_jti`` as ``jti`` (once per old token, across processes).
- ``token_revoked(unit, identifier, reason, user_id)``: a token (``unit="token"``),
  a session (``"session"``) or all of a user's sessions (``"user"``) was revoked.
- ``refresh_token_reused(user, session, jti, request)``: a retired refresh token
  came back after its grace period; its session has been revoked.
- ``api_token_created(token, user, request)``: an API token was created
  (``token`` is the :class:`~django_tokenkit.models.APIToken` row).
- ``api_token_used(token, request)``: an API token authenticated a request; sent
  with the write of its ``last_used_at``, at most once per
  ``API_TOKEN_LAST_USED_INTERVAL`` per token (``token`` is the request's
  :class:`~django_tokenkit.api_token_store.APITokenCredential`).
- ``api_token_rotated(old, new, user, request)``: ``new`` replaced ``old``,
  which keeps working until ``old.expires_at``.
- ``api_token_expiring(token, user, threshold, expires_at)``: ``token`` expires
  within ``threshold``; sent once per threshold by ``tokenkit_api_token notify``.

Revoking an API token sends ``token_revoked`` with ``unit="api_token"`` and the
token's id as ``identifier``.
"""

from __future__ import annotations

from django.dispatch import Signal

token_obtained = Signal()
token_refreshed = Signal()
token_reissued = Signal()
token_revoked = Signal()
refresh_token_reused = Signal()
api_token_created = Signal()
api_token_used = Signal()
api_token_rotated = Signal()
api_token_expiring = Signal()
