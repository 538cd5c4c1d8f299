"""Refresh rotation: a refresh token buys a new pair once, and a replay the same pair.

Rotation retires the presented token and records its successor; a retired
token presented again within ``REFRESH_GRACE_PERIOD`` gets the pair its
first use got (signed again from the record: the same claims and ``jti``;
the same bytes unless the algorithm is ES256), and after it counts as reuse:
the session is revoked. Locks are taken in the order
:func:`~django_tokenkit.services.revocation.lock_sessions` documents.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import DatabaseError, connections, transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from django_tokenkit import claims, locks, signals, tokens
from django_tokenkit.conf import tokenkit_settings
from django_tokenkit.exceptions import StoreUnavailable, TokenExpired, TokenReused, TokenRevoked
from django_tokenkit.models import (
    IssuedToken,
    PendingRevocation,
    RevokeReason,
    Session,
    TokenStatus,
    TokenType,
)
from django_tokenkit.services._common import session_uuid
from django_tokenkit.services.issue import (
    TokenPair,
    encode_access,
    encode_refresh,
    issue_pair,
    replay_pair,
)
from django_tokenkit.services.revocation import (
    after_session_revocations,
    lock_sessions,
    revoke_sessions_in_db,
)
from django_tokenkit.tokens import Token

logger = logging.getLogger(__name__)

#: How far a grace-period replay follows a chain of rotations to its live head.
MAX_REPLAY_HOPS = 10


def refresh(raw_refresh: str, request: HttpRequest | None = None) -> TokenPair:
    """Exchange a refresh token for a new pair, retiring it when rotation is on.

    Concurrent refreshes of one token first queue on a lock in the shared
    cache (:mod:`django_tokenkit.locks`), then on their session's row lock
    and the token's, in the order of
    :func:`~django_tokenkit.services.revocation.lock_sessions`. The
    retiring ``UPDATE ... WHERE rotated_at IS NULL`` is the arbiter: exactly
    one request changes the row and rotates, whatever happened to the locks;
    the others find the token retired and, within ``REFRESH_GRACE_PERIOD``,
    receive the same pair, signed again from the recorded claims (see
    :func:`~django_tokenkit.services.issue.replay_pair` for ES256).

    Raises ``TokenExpired``, ``TokenInvalid``, ``TokenRevoked``, ``TokenReused``
    (after revoking the session) or
    :class:`~django_tokenkit.exceptions.StoreUnavailable`.
    """
    token = tokens.decode(raw_refresh, tokens.REFRESH)
    try:
        with locks.single_flight(f"refresh:{token.jti}"):
            try:
                outcome = _refresh_in_transaction(token)
            except _LostRotation:
                # Another transaction rotated the token between our read and
                # our write (no lock was held); now we see its result.
                outcome = _refresh_in_transaction(token)
    except (DatabaseError, _LostRotation) as error:
        logger.exception("tokenkit could not complete a refresh of session %s", token.sid)
        raise StoreUnavailable() from error
    if isinstance(outcome, _Reused):
        session = outcome.session
        unpublished = outcome.unpublished
        transaction.on_commit(
            lambda: after_session_revocations([session], RevokeReason.REUSE, unpublished)
        )
        logger.warning(
            "tokenkit refresh token reuse: jti %s of session %s (user %s) was presented "
            "after its grace period; the session is revoked.",
            token.jti,
            token.sid,
            session.user_id,
        )
        signals.refresh_token_reused.send(
            sender=Session, user=session.user, session=session, jti=token.jti, request=request
        )
        raise TokenReused()
    pair, session, rotated = outcome
    signals.token_refreshed.send(
        sender=Session, user=session.user, session=session, request=request, rotated=rotated
    )
    return pair


class _LostRotation(Exception):
    """Internal: another transaction retired the token between our read and write."""


@dataclass(frozen=True)
class _Reused:
    """Internal: a retired token came back after its grace period; ``session`` is revoked."""

    session: Session
    unpublished: list[PendingRevocation]


def _refresh_in_transaction(
    token: Token,
) -> tuple[TokenPair, Session, bool] | _Reused:
    now = timezone.now()
    with transaction.atomic():
        # The lock order of lock_sessions: the session's row, then its token's.
        session_id = session_uuid(token.sid)
        locked = lock_sessions([session_id] if session_id is not None else [])
        if not locked:
            # Signed by us but its session is gone: flushed, or its user was deleted.
            raise TokenRevoked()
        session = locked[0]
        # Read the token row only now, in a statement of its own: a waiter that
        # gets the session lock after another refresh committed reads the token
        # row, its successor and the session as that refresh left them. Rows
        # read in one statement with a waited-for lock would come from the
        # older snapshot, and a NULL successor would look like reuse.
        record = _locked_token_rows().filter(jti=token.jti, token_type=TokenType.REFRESH).first()
        if record is None or record.session_id != session.pk:
            # Signed by us but not on record: flushed, or its user was deleted.
            raise TokenRevoked()
        record.session = session
        check_session_usable(session, now)
        # The record's own rule, revoked before rotated. An expired record is
        # not refused here: the token's own ``exp`` was checked when decoded.
        record_status = record.status(now)
        if record_status == TokenStatus.REVOKED:
            raise TokenRevoked()
        if record_status == TokenStatus.ROTATED:
            return _replay_or_reuse(record, session, now, claims.carried(token.claims))
        if not tokenkit_settings.rotate_refresh_tokens:
            return _access_only(record, session, now, claims.carried(token.claims)), session, False
        refresh_expires_at = min(now + tokenkit_settings.refresh_token_lifetime, session.expires_at)
        access, access_token, refresh, refresh_token, successor = issue_pair(
            session,
            now=now,
            refresh_jti=tokens.new_jti(),
            refresh_expires_at=refresh_expires_at,
            extra=claims.carried(token.claims),
        )
        successor.save(force_insert=True)
        retired = IssuedToken.objects.filter(jti=record.jti, rotated_at__isnull=True).update(
            rotated_at=now, replaced_by=successor
        )
        if retired != 1:
            # Another transaction rotated it first: roll ours back, replay its pair.
            raise _LostRotation()
        Session.objects.filter(pk=session.pk).update(last_used_at=now)
    return TokenPair(access, access_token, refresh, refresh_token), session, True


def _locked_token_rows() -> QuerySet[IssuedToken]:
    """Issued tokens locked for update; only the token's own row where supported.

    Take the session's lock first
    (:func:`~django_tokenkit.services.revocation.lock_sessions`). PostgreSQL
    refuses ``FOR UPDATE`` on the nullable side of the outer join to
    ``replaced_by`` unless ``OF`` names the table; MariaDB has no ``OF``.
    """
    rows = IssuedToken.objects.all()
    locked: QuerySet[IssuedToken]
    if connections[rows.db].features.has_select_for_update_of:
        locked = rows.select_for_update(of=("self",))
    else:
        locked = rows.select_for_update()
    return locked


def _replay_or_reuse(
    record: IssuedToken, session: Session, now: datetime, extra: dict[str, Any]
) -> tuple[TokenPair, Session, bool] | _Reused:
    assert record.rotated_at is not None
    successor = record.replaced_by
    within_grace = now - record.rotated_at <= tokenkit_settings.refresh_grace_period
    if successor is None or not within_grace:
        _, unpublished = revoke_sessions_in_db([session], RevokeReason.REUSE, now)
        return _Reused(session, unpublished)
    # If the successor was itself rotated meanwhile (a fast client refreshed
    # again within the grace period), hand out the live pair at the head of
    # the chain: a retired successor would soon count as reused.
    for _ in range(MAX_REPLAY_HOPS):
        if successor.rotated_at is None or successor.replaced_by_id is None:
            break
        successor = IssuedToken.objects.get(pk=successor.replaced_by_id)
    successor.session = session
    # Every token of a session carries the claims of its login, so the
    # presented token's are the successor's: the replay is byte for byte.
    return replay_pair(successor, extra), session, False


def _access_only(
    record: IssuedToken, session: Session, now: datetime, extra: dict[str, Any]
) -> TokenPair:
    """With rotation off: a new access token, the same refresh token."""
    access, access_token = encode_access(session, now, extra)
    refresh, refresh_token = encode_refresh(record, extra)
    Session.objects.filter(pk=session.pk).update(last_used_at=now)
    return TokenPair(access, access_token, refresh, refresh_token)


def check_session_usable(session: Session, now: datetime) -> None:
    """Raise unless ``session`` may refresh: its status, its user, its idle time.

    ``TokenRevoked`` or ``TokenExpired``; introspection asks the same question.

    Revoked and expired (past the absolute cap) are the session's own
    ``status()``; whether its user is active and whether it went idle are
    not recorded on the row, so they are checked here.
    """
    status = session.status(now)
    if status == TokenStatus.REVOKED:
        raise TokenRevoked()
    if not session.user.is_active:
        raise TokenRevoked("User is inactive.")
    if status == TokenStatus.EXPIRED:
        raise TokenExpired("Session has reached its maximum lifetime; log in again.")
    idle_timeout = tokenkit_settings.session_idle_timeout
    last_used = session.last_used_at or session.created_at
    if idle_timeout is not None and now - last_used > idle_timeout:
        raise TokenExpired("Session has been idle too long; log in again.")
