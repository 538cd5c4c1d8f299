"""Revocation: sessions, users and single tokens, effective at once on every process.

Each revocation is written to the database in one transaction (with an
outbox row, see :mod:`django_tokenkit.outbox`), then, once it committed,
published to the shared cache (:func:`django_tokenkit.revocation.publish`)
and announced with the ``token_revoked`` signal. Every door (logout, the
sessions endpoint, the admin, the commands, the receivers, reuse detection)
comes through here, so each fires the same signal and clears the same keys.
:func:`lock_sessions` holds the lock-order rule every writer follows.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import connections, transaction
from django.utils import timezone

from django_tokenkit import outbox, revocation, signals, tokens, users
from django_tokenkit.models import (
    BlacklistedToken,
    IssuedToken,
    PendingRevocation,
    RevokeReason,
    Session,
    TokenStatus,
)
from django_tokenkit.services import api_tokens
from django_tokenkit.services._common import session_uuid
from django_tokenkit.tokens import Token


def lock_sessions(session_ids: Iterable[uuid.UUID]) -> list[Session]:
    """Lock the rows of these sessions for this transaction; return the existing ones.

    **The lock order, everywhere:** a session's row before the rows of its
    tokens (``IssuedToken``, ``BlacklistedToken``), and several sessions in
    primary-key order. Refresh locks its session here before its token's
    row; every revocation (logout, logout-all, the sessions endpoint, admin
    actions, password change, deactivation, the commands, reuse detection,
    single tokens) locks the sessions it touches here before it writes any
    token row. Two transactions that need a common session therefore queue
    on that session's row instead of each holding what the other waits for,
    which PostgreSQL would end with ``DeadlockDetected`` (a 503, and a lost
    logout).

    Must run inside ``transaction.atomic()``. The rows come back in
    primary-key order with their users (``select_related``); only the
    session rows are locked where the database can say so (``OF``), and
    with ``FOR NO KEY UPDATE`` where supported: that excludes every other
    session writer but not an insert of a row that refers to the session.
    On SQLite, which has no row locks, this is a plain read.
    """
    ids = sorted(set(session_ids))
    if not ids:
        return []
    rows = Session.objects.filter(pk__in=ids).order_by("pk")
    features = connections[rows.db].features
    if features.has_select_for_update_of:
        locked = rows.select_related("user").select_for_update(
            of=("self",), no_key=features.has_select_for_no_key_update
        )
    else:
        # Without OF the join would lock the user rows too; load users lazily.
        locked = rows.select_for_update(no_key=features.has_select_for_no_key_update)
    return list(locked)


def revoke_sessions_in_db(
    sessions: Iterable[Session], reason: str, now: datetime
) -> tuple[list[Session], list[PendingRevocation]]:
    """Mark the still-active ones revoked, in the caller's transaction.

    The caller holds their rows' locks (:func:`lock_sessions`), so the token
    rows written here come after their sessions' rows, in the one lock order.
    Returns the sessions this call revoked and their outbox rows, which
    :func:`after_session_revocations` publishes once the transaction
    committed (see :mod:`django_tokenkit.outbox`).
    """
    # Expired sessions and tokens are revoked too (not_revoked(), not active()).
    candidates = [session for session in sessions if session.status(now) != TokenStatus.REVOKED]
    if not candidates:
        return [], []
    ids = [session.pk for session in candidates]
    Session.objects.filter(pk__in=ids).not_revoked().update(revoked_at=now, revoke_reason=reason)
    IssuedToken.objects.filter(session_id__in=ids).not_revoked().update(revoked_at=now)
    for session in candidates:
        session.revoked_at = now
        session.revoke_reason = reason
    unpublished = outbox.record(
        outbox.for_session(session.sid, session.expires_at) for session in candidates
    )
    return candidates, unpublished


def after_session_revocations(
    sessions: list[Session], reason: str, unpublished: list[PendingRevocation]
) -> None:
    revocation.publish(unpublished)
    for session in sessions:
        signals.token_revoked.send(
            sender=Session,
            unit="session",
            identifier=session.sid,
            reason=reason,
            user_id=session.user_id,
        )


def revoke_sessions(sessions: Iterable[Session], reason: str) -> int:
    """Revoke each session and every token descending from it, effective at once.

    The sessions are locked with :func:`lock_sessions` (its lock order)
    before their tokens' rows are written. Returns how many sessions this
    call revoked (already revoked ones are skipped, so calling it twice is
    harmless).
    """
    now = timezone.now()
    with transaction.atomic():
        locked = lock_sessions(session.pk for session in sessions)
        revoked, unpublished = revoke_sessions_in_db(locked, reason, now)
    if revoked:
        transaction.on_commit(lambda: after_session_revocations(revoked, reason, unpublished))
    return len(revoked)


def revoke_session_id(sid: str, reason: str) -> int:
    """Revoke the session with id ``sid``; 0 when unknown or already revoked."""
    session_id = session_uuid(sid)
    if session_id is None:
        return 0
    return revoke_sessions(Session.objects.filter(pk=session_id), reason)


def revoke_user(user: AbstractBaseUser, reason: str) -> int:
    """Revoke every active session of ``user``: all their tokens stop working."""
    return revoke_users([user.pk], reason)


def revoke_users(user_pks: Iterable[Any], reason: str) -> int:
    """Revoke every active session of each user in ``user_pks``, effective at once.

    One transaction for all sessions; besides each session's signal, one
    ``token_revoked`` with ``unit="user"`` per user who had anything left to
    revoke. Returns how many sessions this call revoked.
    """
    pks = list(dict.fromkeys(pk for pk in user_pks if pk is not None))
    active = Session.objects.filter(user_id__in=pks).not_revoked()
    affected = list(dict.fromkeys(active.values_list("user_id", flat=True)))
    if not affected:
        return 0
    count = revoke_sessions(active.filter(user_id__in=affected), reason)

    def announce() -> None:
        for pk in affected:
            signals.token_revoked.send(
                sender=Session, unit="user", identifier=str(pk), reason=reason, user_id=pk
            )

    if count:
        transaction.on_commit(announce)
    return count


@dataclass(frozen=True)
class UsersRevoked:
    """What :func:`revoke_users_and_api_tokens` ended: sessions and API tokens."""

    sessions: int
    api_tokens: int


def revoke_users_and_api_tokens(user_pks: Iterable[Any], reason: str) -> UsersRevoked:
    """Revoke every session *and every API token* of these users, in one transaction.

    For the doors where an operator revokes "all tokens of a user" (the
    admin's actions and buttons, ``tokenkit_revoke --user``). Logout-all
    must not come here: it ends logins, and a job's API token is not a login
    (SPEC section 6, "API tokens"), which is why :func:`revoke_users` and
    :func:`logout` leave API tokens alone. Sessions are revoked first (their
    lock order), then the API-token rows; both or neither commit.
    """
    pks = list(dict.fromkeys(pk for pk in user_pks if pk is not None))
    with transaction.atomic():
        sessions = revoke_users(pks, reason)
        ended = api_tokens.revoke_for_users(pks, reason)
    return UsersRevoked(sessions=sessions, api_tokens=ended)


def revoke_token(token: Token, reason: str) -> bool:
    """Revoke one token by ``jti``; its session stays usable. False if it already was.

    Its session's row is locked (:func:`lock_sessions`) before the token's
    rows are written, as every revocation and refresh does.
    """
    session_id = session_uuid(token.sid)
    user_model = get_user_model()
    user_exists = user_model._default_manager.filter(pk=users.coerce_pk(token.sub)).exists()
    with transaction.atomic():
        session_exists = bool(lock_sessions([session_id] if session_id is not None else []))
        _, created = BlacklistedToken.objects.get_or_create(
            jti=token.jti,
            defaults={
                "token_type": token.token_type,
                "session_id": session_id if session_exists else None,
                "user_id": users.coerce_pk(token.sub) if user_exists else None,
                "expires_at": token.expires_at,
                "reason": reason,
            },
        )
        if token.token_type == tokens.REFRESH:
            IssuedToken.objects.filter(jti=token.jti).not_revoked().update(
                revoked_at=timezone.now()
            )
        unpublished = (
            outbox.record([outbox.for_token(token.jti, token.sid, token.expires_at)])
            if created
            else []
        )
    if created:

        def publish() -> None:
            revocation.publish(unpublished)
            signals.token_revoked.send(
                sender=BlacklistedToken,
                unit="token",
                identifier=token.jti,
                reason=reason,
                # The primary key, as the session and user units send it, not the claim string.
                user_id=users.coerce_pk(token.sub),
            )

        transaction.on_commit(publish)
    return bool(created)


def logout(presented: Iterable[Token], *, everywhere_for: AbstractBaseUser | None = None) -> int:
    """End the session of each presented token, or every session of a user.

    Returns the number of sessions revoked by this call.
    """
    if everywhere_for is not None:
        return revoke_user(everywhere_for, RevokeReason.LOGOUT_ALL)
    session_ids = {sid for sid in (session_uuid(token.sid) for token in presented) if sid}
    if not session_ids:
        return 0
    return revoke_sessions(Session.objects.filter(pk__in=session_ids), RevokeReason.LOGOUT)


def revoke_jti(jti: str, reason: str) -> bool:
    """Revoke the single token with id ``jti`` from tokenkit's records, without the token.

    tokenkit records every refresh token it issues (by ``jti``) and, on the
    same row, the access token minted with it (``access_jti``), so either can
    be revoked by id: this blacklists it through :func:`revoke_token`, with
    the recorded expiry, session and user, so the signal fires and every
    process refuses it at once. Its session stays usable. The ``access_jti``
    lookup is not indexed: fine for an operator's command, not for a request.

    Returns True when this call revoked the token, False when it already was
    (blacklisted, or its session revoked). Raises ``IssuedToken.DoesNotExist``
    when no record names ``jti``: an access token renewed by sliding
    expiration (its session is the unit to revoke), a token whose record was
    flushed after it expired, or a mistyped id. Such an id is deliberately
    not blacklisted blind: a blacklist row without its session is invisible
    to the database fallback of :mod:`django_tokenkit.revocation`, so the
    revocation would lapse when the cache loses its contents.
    """
    found: tuple[tokens.TokenType, datetime, IssuedToken] | None = None
    record = IssuedToken.objects.select_related("session").filter(jti=jti).first()
    if record is not None:
        found = (tokens.REFRESH, record.expires_at, record)
    elif jti:
        record = IssuedToken.objects.select_related("session").filter(access_jti=jti).first()
        if record is not None and record.access_expires_at is not None:
            found = (tokens.ACCESS, record.access_expires_at, record)
    if found is None:
        raise IssuedToken.DoesNotExist(f"No token with id {jti!r} is on record.")
    token_type, expires_at, record = found
    session = record.session
    if (
        session.status() == TokenStatus.REVOKED
        or (token_type == tokens.REFRESH and record.status() == TokenStatus.REVOKED)
        or BlacklistedToken.objects.filter(jti=jti).exists()
    ):
        return False
    # The claims revoke_token reads, as the token itself carries them.
    claims = {
        "jti": jti,
        "sub": str(session.user_id),
        "sid": session.sid,
        "exp": int(expires_at.timestamp()),
        "token_type": token_type,
    }
    return revoke_token(Token(token_type=token_type, claims=claims), reason)


def revoke_issued_tokens(records: Iterable[IssuedToken], reason: str) -> int:
    """Revoke the refresh token of each record and the access token issued with it.

    An :class:`IssuedToken` row records a pair, so both of its token ids go on
    the blacklist through :func:`revoke_token` (same signal, same cache keys).
    Tokens already revoked, or past their expiry, are skipped; the session
    stays usable, and an access token that sliding expiration already renewed
    is not reached (revoke the session for that). Returns how many tokens
    this call revoked.
    """
    now = timezone.now()
    revoked = 0
    # In the sessions' primary-key order, the lock order of lock_sessions, in
    # case the caller holds a transaction around the whole loop.
    for record in sorted(records, key=lambda record: (record.session_id, record.pk)):
        session = record.session
        if record.status(now) == TokenStatus.REVOKED or session.status(now) == TokenStatus.REVOKED:
            continue
        claims = {"sub": str(session.user_id), "sid": session.sid}
        if record.expires_at > now:
            token = Token(
                tokens.REFRESH,
                {**claims, "jti": record.jti, "exp": int(record.expires_at.timestamp())},
            )
            revoked += revoke_token(token, reason)
        if record.access_jti and record.access_expires_at and record.access_expires_at > now:
            token = Token(
                tokens.ACCESS,
                {
                    **claims,
                    "jti": record.access_jti,
                    "exp": int(record.access_expires_at.timestamp()),
                },
            )
            revoked += revoke_token(token, reason)
    return revoked
