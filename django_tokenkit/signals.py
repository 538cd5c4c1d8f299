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
- ``api_token_used(token, request)``: an API token authenticated a request.
"""

from __future__ import annotations

from django.dispatch import Signal

token_obtained = Signal()
token_refreshed = Signal()
token_reissued = Signal()
token_revoked = Signal()
refresh_token_reused = Signal()
api_token_used = Signal()
