"""Issue, refresh and revoke: the only writer of tokenkit's models, cache and signals.

Views, admin actions and management commands call these functions instead of
touching models, so every revocation fires the same signal and clears the
same cache keys whichever door it came through.
"""

from __future__ import annotations

import ipaddress
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from datetime import timezone as dt_timezone
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import DatabaseError, connections, transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from django_tokenkit import locks, outbox, revocation, signals, tokens, users
from django_tokenkit.conf import tokenkit_settings
from django_tokenkit.exceptions import (
    ServiceUnavailable,
    TokenExpired,
    TokenReused,
    TokenRevoked,
)
from django_tokenkit.models import (
    BlacklistedToken,
    IssuedToken,
    PendingRevocation,
    RevokeReason,
    Session,
    TokenType,
)
from django_tokenkit.tokens import Token

logger = logging.getLogger(__name__)

USER_AGENT_MAX_LENGTH = 512
#: How far a grace-period replay follows a chain of rotations to its live head.
MAX_REPLAY_HOPS = 10


@dataclass(frozen=True)
class TokenPair:
    """An access token and, when one was issued or kept, a refresh token."""

    access: str
    access_token: Token
    refresh: str
    refresh_token: Token

    def as_response_data(self) -> dict[str, Any]:
        """The pair as SPEC section 5 shapes it.

        ``expires_in`` is each token's lifetime as issued (``exp - iat``, the
        RFC 6749 section 5.1 meaning), not the time left now, so a pair
        replayed within the grace period is answered byte for byte alike.
        """
        return {
            "access": self.access,
            "refresh": self.refresh,
            "token_type": "Bearer",
            "expires_in": _lifetime(self.access_token),
            "refresh_expires_in": _lifetime(self.refresh_token),
        }


def _lifetime(token: Token) -> int:
    return max(int(token.claims["exp"]) - int(token.claims["iat"]), 0)


def client_details(request: HttpRequest | None) -> tuple[str | None, str]:
    """The client's IP address and user agent as recorded on its session.

    ``REMOTE_ADDR`` is trusted as it is: behind a proxy, set it from the
    proxy's header in your own middleware (the docs show how), because only
    you know which proxy to believe.
    """
    if request is None:
        return None, ""
    ip = request.META.get("REMOTE_ADDR") or None
    if ip is not None:
        try:
            ip = str(ipaddress.ip_address(ip))
        except ValueError:
            ip = None
    user_agent = str(request.META.get("HTTP_USER_AGENT", ""))[:USER_AGENT_MAX_LENGTH]
    return ip, user_agent


def _encode_access(session: Session, now: datetime) -> tuple[str, Token]:
    """A new access token of ``session``, never outliving the session's cap."""
    return tokens.encode(
        tokens.ACCESS,
        sub=str(session.user_id),
        sid=session.sid,
        auth_time=session.auth_time,
        expires_at=min(now + tokenkit_settings.access_token_lifetime, session.expires_at),
        now=now,
    )


def _issue_pair(
    session: Session, *, now: datetime, refresh_jti: str, refresh_expires_at: datetime
) -> tuple[str, Token, str, Token, IssuedToken]:
    access, access_token = _encode_access(session, now)
    record = IssuedToken(
        jti=refresh_jti,
        session=session,
        issued_at=now,
        expires_at=refresh_expires_at,
        access_jti=access_token.jti,
        access_expires_at=access_token.expires_at,
    )
    refresh, refresh_token = _encode_refresh(record)
    return access, access_token, refresh, refresh_token, record


def _encode_refresh(record: IssuedToken) -> tuple[str, Token]:
    session = record.session
    return tokens.encode(
        tokens.REFRESH,
        sub=str(session.user_id),
        sid=session.sid,
        auth_time=session.auth_time,
        expires_at=record.expires_at,
        now=record.issued_at,
        jti=record.jti,
    )


def _replay_pair(record: IssuedToken) -> TokenPair:
    """Sign a recorded pair again; HMAC signing is deterministic, so the bytes match."""
    session = record.session
    assert record.access_expires_at is not None
    access, access_token = tokens.encode(
        tokens.ACCESS,
        sub=str(session.user_id),
        sid=session.sid,
        auth_time=session.auth_time,
        expires_at=record.access_expires_at,
        now=record.issued_at,
        jti=record.access_jti,
    )
    refresh, refresh_token = _encode_refresh(record)
    return TokenPair(access, access_token, refresh, refresh_token)


def login(user: AbstractBaseUser, request: HttpRequest | None = None) -> TokenPair:
    """Start a new session for ``user`` and issue its first pair.

    The caller has already authenticated the user. Raises
    ``ServiceUnavailable`` when the database cannot record the session, in
    which case nothing was recorded.
    """
    now = timezone.now()
    ip, user_agent = client_details(request)
    try:
        with transaction.atomic():
            session = Session.objects.create(
                user=user,
                auth_time=now,
                created_at=now,
                expires_at=now + tokenkit_settings.session_max_lifetime,
                last_used_at=now,
                ip_address=ip,
                user_agent=user_agent,
            )
            refresh_expires_at = min(
                now + tokenkit_settings.refresh_token_lifetime, session.expires_at
            )
            access, access_token, refresh, refresh_token, record = _issue_pair(
                session,
                now=now,
                refresh_jti=tokens.new_jti(),
                refresh_expires_at=refresh_expires_at,
            )
            record.save(force_insert=True)
    except DatabaseError as error:
        logger.exception("tokenkit could not record a login for user %s", user.pk)
        raise ServiceUnavailable() from error
    signals.token_obtained.send(sender=Session, user=user, session=session, request=request)
    return TokenPair(access, access_token, refresh, refresh_token)


def refresh(raw_refresh: str, request: HttpRequest | None = None) -> TokenPair:
    """Exchange a refresh token for a new pair, retiring it when rotation is on.

    Concurrent refreshes of one token first queue on a lock in the shared
    cache (:mod:`django_tokenkit.locks`), then on their session's row lock
    and the token's, in the order of :func:`lock_sessions`. The
    retiring ``UPDATE ... WHERE rotated_at IS NULL`` is the arbiter: exactly
    one request changes the row and rotates, whatever happened to the locks;
    the others find the token retired and, within ``REFRESH_GRACE_PERIOD``,
    receive the same pair, signed again from the recorded claims.

    Raises ``TokenExpired``, ``TokenInvalid``, ``TokenRevoked``, ``TokenReused``
    (after revoking the session) or ``ServiceUnavailable``.
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
        raise ServiceUnavailable() from error
    if isinstance(outcome, _Reused):
        session = outcome.session
        unpublished = outcome.unpublished
        transaction.on_commit(
            lambda: _after_session_revocations([session], RevokeReason.REUSE, unpublished)
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
        session_id = _session_uuid(token.sid)
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
        _check_session_usable(session, now)
        if record.revoked_at is not None:
            raise TokenRevoked()
        if record.rotated_at is not None:
            return _replay_or_reuse(record, session, now)
        if not tokenkit_settings.rotate_refresh_tokens:
            return _access_only(record, session, now), session, False
        refresh_expires_at = min(now + tokenkit_settings.refresh_token_lifetime, session.expires_at)
        access, access_token, refresh, refresh_token, successor = _issue_pair(
            session, now=now, refresh_jti=tokens.new_jti(), refresh_expires_at=refresh_expires_at
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


def _locked_token_rows() -> QuerySet[IssuedToken]:
    """Issued tokens locked for update; only the token's own row where supported.

    Take the session's lock first (:func:`lock_sessions`). PostgreSQL
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
    record: IssuedToken, session: Session, now: datetime
) -> tuple[TokenPair, Session, bool] | _Reused:
    assert record.rotated_at is not None
    successor = record.replaced_by
    within_grace = now - record.rotated_at <= tokenkit_settings.refresh_grace_period
    if successor is None or not within_grace:
        _, unpublished = _revoke_sessions_in_db([session], RevokeReason.REUSE, now)
        return _Reused(session, unpublished)
    # If the successor was itself rotated meanwhile (a fast client refreshed
    # again within the grace period), hand out the live pair at the head of
    # the chain: a retired successor would soon count as reused.
    for _ in range(MAX_REPLAY_HOPS):
        if successor.rotated_at is None or successor.replaced_by_id is None:
            break
        successor = IssuedToken.objects.get(pk=successor.replaced_by_id)
    successor.session = session
    return _replay_pair(successor), session, False


def _access_only(record: IssuedToken, session: Session, now: datetime) -> TokenPair:
    """With rotation off: a new access token, the same refresh token."""
    access, access_token = _encode_access(session, now)
    refresh, refresh_token = _encode_refresh(record)
    Session.objects.filter(pk=session.pk).update(last_used_at=now)
    return TokenPair(access, access_token, refresh, refresh_token)


def _check_session_usable(session: Session, now: datetime) -> None:
    if session.revoked_at is not None:
        raise TokenRevoked()
    if not session.user.is_active:
        raise TokenRevoked("User is inactive.")
    if now >= session.expires_at:
        raise TokenExpired("Session has reached its maximum lifetime; log in again.")
    idle_timeout = tokenkit_settings.session_idle_timeout
    last_used = session.last_used_at or session.created_at
    if idle_timeout is not None and now - last_used > idle_timeout:
        raise TokenExpired("Session has been idle too long; log in again.")


# --- revocation -------------------------------------------------------------


def _revoke_sessions_in_db(
    sessions: Iterable[Session], reason: str, now: datetime
) -> tuple[list[Session], list[PendingRevocation]]:
    """Mark the still-active ones revoked, in the caller's transaction.

    The caller holds their rows' locks (:func:`lock_sessions`), so the token
    rows written here come after their sessions' rows, in the one lock order.
    Returns the sessions this call revoked and their outbox rows, which
    :func:`_after_session_revocations` publishes once the transaction
    committed (see :mod:`django_tokenkit.outbox`).
    """
    candidates = [session for session in sessions if session.revoked_at is None]
    if not candidates:
        return [], []
    ids = [session.pk for session in candidates]
    Session.objects.filter(pk__in=ids, revoked_at__isnull=True).update(
        revoked_at=now, revoke_reason=reason
    )
    IssuedToken.objects.filter(session_id__in=ids, revoked_at__isnull=True).update(revoked_at=now)
    for session in candidates:
        session.revoked_at = now
        session.revoke_reason = reason
    unpublished = outbox.record(
        outbox.for_session(session.sid, session.expires_at) for session in candidates
    )
    return candidates, unpublished


def _after_session_revocations(
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
        revoked, unpublished = _revoke_sessions_in_db(locked, reason, now)
    if revoked:
        transaction.on_commit(lambda: _after_session_revocations(revoked, reason, unpublished))
    return len(revoked)


def revoke_session_id(sid: str, reason: str) -> int:
    """Revoke the session with id ``sid``; 0 when unknown or already revoked."""
    try:
        session_id = uuid.UUID(sid)
    except ValueError:
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
    active = Session.objects.filter(user_id__in=pks, revoked_at__isnull=True)
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


def revoke_token(token: Token, reason: str) -> bool:
    """Revoke one token by ``jti``; its session stays usable. False if it already was.

    Its session's row is locked (:func:`lock_sessions`) before the token's
    rows are written, as every revocation and refresh does.
    """
    session_id = _session_uuid(token.sid)
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
            IssuedToken.objects.filter(jti=token.jti, revoked_at__isnull=True).update(
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


def _session_uuid(sid: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(sid)
    except ValueError:
        return None


def logout(presented: Iterable[Token], *, everywhere_for: AbstractBaseUser | None = None) -> int:
    """End the session of each presented token, or every session of a user.

    Returns the number of sessions revoked by this call.
    """
    if everywhere_for is not None:
        return revoke_user(everywhere_for, RevokeReason.LOGOUT_ALL)
    session_ids = {sid for sid in (_session_uuid(token.sid) for token in presented) if sid}
    if not session_ids:
        return 0
    return revoke_sessions(Session.objects.filter(pk__in=session_ids), RevokeReason.LOGOUT)


# --- sliding expiration -----------------------------------------------------


def sliding_key(jti: str) -> str:
    """Cache key holding the claims of the one renewal of access token ``jti``."""
    return revocation.cache_key("slide", jti)


def needs_renewal(token: Token, now: datetime) -> bool:
    """True when ``token`` has at most ``SLIDING_THRESHOLD`` left. No I/O."""
    return (
        token.token_type == tokens.ACCESS
        and token.lifetime_left(now) <= tokenkit_settings.sliding_threshold
    )


def renew_access_token(token: Token, now: datetime | None = None) -> tuple[str, Token] | None:
    """The renewed form of a verified access token near its expiry, or None.

    A renewal keeps ``sub``, ``sid`` and ``auth_time``, takes a new ``jti``
    and never outlives the session's cap (``auth_time`` +
    ``SESSION_MAX_LIFETIME``). Every caller presenting the same old token, in
    any process, gets the same new token: the first to ``add`` its proposed
    claims under the old ``jti`` wins, the others sign the winner's claims,
    and HMAC signing is deterministic. The cache holds only claims, never a
    token. The winner alone fires ``token_reissued`` and records the
    session's last use, so a session's ``last_used_at`` moves once per
    renewal rather than on every request.

    Returns None when there is nothing to extend (the cap is reached) or the
    cache is unreachable (the client then refreshes as usual).
    """
    moment = now or timezone.now()
    if not needs_renewal(token, moment):
        return None
    cap = token.auth_time + tokenkit_settings.session_max_lifetime
    expires_at = min(moment + tokenkit_settings.access_token_lifetime, cap)
    if int(expires_at.timestamp()) <= int(token.expires_at.timestamp()):
        return None
    proposal = {
        "jti": tokens.new_jti(),
        "iat": int(moment.timestamp()),
        "exp": int(expires_at.timestamp()),
    }
    key = sliding_key(token.jti)
    # Kept until the old token is dead: until then it may be presented again.
    timeout = max(
        int((token.expires_at - moment + tokenkit_settings.leeway).total_seconds()) + 1, 1
    )
    try:
        cache = revocation.get_cache()
        won = cache.add(key, proposal, timeout=timeout)
        claims = proposal if won else cache.get(key)
    except Exception as error:  # the cache backend's connection error
        revocation.warn_cache_unavailable("sliding renewal", error)
        return None
    if not isinstance(claims, dict):
        return None  # evicted between add and get; the next request renews
    raw, renewed = tokens.encode(
        tokens.ACCESS,
        sub=token.sub,
        sid=token.sid,
        auth_time=token.auth_time,
        expires_at=_from_timestamp(claims["exp"]),
        now=_from_timestamp(claims["iat"]),
        jti=str(claims["jti"]),
    )
    if won:
        session_id = _session_uuid(token.sid)
        if session_id is not None:
            Session.objects.filter(pk=session_id).update(last_used_at=moment)
        signals.token_reissued.send(
            sender=Session,
            user_id=users.coerce_pk(token.sub),
            sid=token.sid,
            jti=renewed.jti,
            old_jti=token.jti,
        )
    return raw, renewed


def _from_timestamp(value: Any) -> datetime:
    return datetime.fromtimestamp(int(value), tz=dt_timezone.utc)


# --- maintenance ------------------------------------------------------------

#: What :func:`flush_expired` deletes, in the order it deletes them.
FLUSH_KINDS = (
    "issued tokens",
    "blacklisted tokens",
    "sessions",
    "revoked sessions",
    "pending revocations",
)

_Flushable = type[IssuedToken] | type[BlacklistedToken] | type[Session] | type[PendingRevocation]


@dataclass(frozen=True)
class FlushProgress:
    """One batch of :func:`flush_expired`: ``deleted`` rows of ``kind``, ``total`` so far."""

    kind: str
    deleted: int
    total: int


def _flush_rules(now: datetime) -> list[tuple[str, _Flushable, dict[str, Any], dict[str, Any]]]:
    """``(kind, model, filter, exclude)`` for each kind of row that may go at ``now``.

    A row goes only once nothing it answers for can still be presented:
    ``decode`` accepts a token until ``exp`` + ``LEEWAY``, so every cutoff
    is ``now - LEEWAY`` and every comparison strict.

    - An issued refresh token goes after its ``expires_at``. The access token
      minted with it (recorded on the same row) expires first unless
      ``ACCESS_TOKEN_LIFETIME`` exceeds ``REFRESH_TOKEN_LIFETIME``; either
      way it stays revocable through its session, whose row outlives both.
    - A blacklist row goes after the ``expires_at`` of the token it blocks,
      never before: until then that token would verify again without it.
    - A session goes after its ``expires_at``, the absolute cap no token of
      it outlives. Its token rows cascade (there are none left by then).
    - A revoked session goes earlier, once every token of it has expired:
      no refresh token of it is left unexpired, and ``ACCESS_TOKEN_LIFETIME``
      has passed since its revocation (an access token renewed by sliding
      expiration just before the revocation is recorded nowhere, but lives
      at most that long).

    Deleting a revoked session early could not undo its revocation anyway:
    ``revocation._load_session_state`` treats a missing session as revoked
    and :func:`refresh` answers a token with no record ``TokenRevoked``.
    The rule above only keeps the row (and its revoke reason, for the admin)
    as long as a client might still present one of its tokens and ask why it
    was refused. The two session kinds are disjoint, so a dry run's counts
    are exactly what a run deletes.

    - An outbox row (a revocation the cache never learned of, because it was
      unreachable for the whole life of what was revoked) goes after its
      ``expires_at``: nothing it revokes can be presented any more.
    """
    cutoff = now - tokenkit_settings.leeway
    revoked_cutoff = cutoff - tokenkit_settings.access_token_lifetime
    return [
        ("issued tokens", IssuedToken, {"expires_at__lt": cutoff}, {}),
        ("blacklisted tokens", BlacklistedToken, {"expires_at__lt": cutoff}, {}),
        ("sessions", Session, {"expires_at__lt": cutoff}, {}),
        (
            "revoked sessions",
            Session,
            {"revoked_at__lt": revoked_cutoff, "expires_at__gte": cutoff},
            {"tokens__expires_at__gte": cutoff},
        ),
        ("pending revocations", PendingRevocation, {"expires_at__lt": cutoff}, {}),
    ]


def count_expired(now: datetime | None = None) -> dict[str, int]:
    """How many rows of each of :data:`FLUSH_KINDS` :func:`flush_expired` would delete."""
    moment = now or timezone.now()
    return {
        kind: model._default_manager.filter(**filters).exclude(**excludes).count()
        for kind, model, filters, excludes in _flush_rules(moment)
    }


def flush_expired(batch_size: int = 5000, now: datetime | None = None) -> Iterable[FlushProgress]:
    """Delete the rows nothing can use any more, ``batch_size`` at a time.

    A generator: each batch is deleted when the caller asks for the next
    :class:`FlushProgress`. Each batch selects at most ``batch_size`` primary
    keys (walking the primary key, so no row is read twice) and deletes
    those rows in its own short transaction, with the expiry condition
    applied again, so memory stays bounded by the batch whatever the table
    size and live traffic is never blocked for long. ``now`` (default: the
    start of the call) is the one moment every rule is judged at; rows
    expiring during the run wait for the next one. Running it again deletes
    nothing new. See :func:`_flush_rules` for what goes when; nothing is
    revoked, so no signal is sent and the cache is left alone.

    Token records go first: a session past its cap or revoked long ago then
    has no token rows left, so deleting it cascades to nothing. (A session
    that refreshed every few minutes for a month has thousands of them, and
    Django's delete collector loads what it cascades to.) Rows are deleted
    with ``QuerySet.delete()``, so ``pre_delete``/``post_delete`` receivers
    see them and ``on_delete`` rules apply.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1.")
    moment = now or timezone.now()
    for kind, model, filters, excludes in _flush_rules(moment):
        expired = model._default_manager.filter(**filters).exclude(**excludes)
        label = model._meta.label
        total = 0
        last_pk: Any = None
        while True:
            batch = expired if last_pk is None else expired.filter(pk__gt=last_pk)
            pks = list(batch.order_by("pk").values_list("pk", flat=True)[:batch_size])
            if not pks:
                break
            last_pk = pks[-1]
            _, per_model = expired.filter(pk__in=pks).delete()
            deleted = per_model.get(label, 0)
            total += deleted
            yield FlushProgress(kind, deleted, total)
            if len(pks) < batch_size:
                break


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
        session.revoked_at is not None
        or (token_type == tokens.REFRESH and record.revoked_at is not None)
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


# --- admin helpers ----------------------------------------------------------


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
        if record.revoked_at is not None or session.revoked_at is not None:
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
