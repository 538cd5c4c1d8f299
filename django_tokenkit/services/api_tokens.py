"""Create, use, rotate and revoke API tokens: the only writer of their rows.

The endpoints, the admin and the ``tokenkit_api_token`` command all call
these functions, so every door validates the same way, fires the same
signals and publishes the same cache state. The raw token exists only in
the return value of :func:`create` and :func:`rotate`; it is never stored,
logged or sent in a signal.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.mail import send_mail
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone

from django_tokenkit import api_token_format, api_token_store, outbox, revocation, signals
from django_tokenkit.conf import tokenkit_settings
from django_tokenkit.models import APIToken, APITokenExpiryWarning

logger = logging.getLogger(__name__)

NAME_MAX_LENGTH = 100
#: No lifetime beyond this, whatever the settings say: past it, "never" is the honest choice.
LONGEST_LIFETIME = timedelta(days=3650)
#: The longest overlap ``rotate/`` grants the old token.
MAX_GRACE = timedelta(days=1)


class APITokenError(Exception):
    """A request about API tokens that cannot be done; ``code`` is stable."""

    code = "invalid"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class InvalidAPITokenRequest(APITokenError):
    """Bad input: an unknown scope, a lifetime out of range, a bad name (400)."""

    code = "invalid"


class APITokenLimitReached(APITokenError):
    """The user already has ``API_TOKEN_LIMIT_PER_USER`` active tokens (409)."""

    code = "api_token_limit"


class APITokenNotRotatable(APITokenError):
    """The token is revoked, expired or was already rotated away (404)."""

    code = "not_found"


@dataclass(frozen=True)
class IssuedAPIToken:
    """A new token: ``token`` is the secret, to be shown once and then forgotten."""

    token: str
    record: APIToken


class _Unset:
    """The absence of ``expires_in`` in :func:`rotate` (None means "never")."""


UNSET = _Unset()


def _clean_name(name: object) -> str:
    if not isinstance(name, str):
        raise InvalidAPITokenRequest("name must be a string.")
    cleaned = name.strip()
    if not cleaned:
        raise InvalidAPITokenRequest("name must not be empty.")
    if len(cleaned) > NAME_MAX_LENGTH:
        raise InvalidAPITokenRequest(f"name must be at most {NAME_MAX_LENGTH} characters.")
    if not cleaned.isprintable():
        raise InvalidAPITokenRequest("name must not contain control characters.")
    return cleaned


def _clean_scopes(scopes: Iterable[object]) -> list[str]:
    known = tokenkit_settings.api_token_scopes
    cleaned: list[str] = []
    for scope in scopes:
        if not isinstance(scope, str) or scope not in known:
            allowed = ", ".join(sorted(known)) or "none are configured"
            raise InvalidAPITokenRequest(f"Unknown scope {scope!r} (allowed: {allowed}).")
        if scope not in cleaned:
            cleaned.append(scope)
    return cleaned


def _expiry(expires_in: timedelta | None, now: datetime) -> datetime | None:
    """When a token created ``now`` with ``expires_in`` expires; None means never."""
    maximum = tokenkit_settings.api_token_max_lifetime
    if expires_in is None:
        if maximum is not None:
            raise InvalidAPITokenRequest(
                "expires_in must be a number of seconds: tokens that never expire are not "
                f"allowed here (API_TOKEN_MAX_LIFETIME is {int(maximum.total_seconds())} s)."
            )
        return None
    if expires_in <= timedelta(0):
        raise InvalidAPITokenRequest("expires_in must be a positive number of seconds.")
    longest = min(maximum, LONGEST_LIFETIME) if maximum is not None else LONGEST_LIFETIME
    if expires_in > longest:
        raise InvalidAPITokenRequest(
            f"expires_in must be at most {int(longest.total_seconds())} seconds."
        )
    return now + expires_in


def _lock_owner(user: AbstractBaseUser) -> None:
    """Serialize a user's creations so two cannot both pass the limit.

    Locks the user's row (PostgreSQL, MySQL); on SQLite writes are serialized
    by the database itself only with ``transaction_mode="IMMEDIATE"``.
    """
    list(get_user_model()._default_manager.select_for_update().filter(pk=user.pk).values("pk"))


def _check_limit(user: AbstractBaseUser, now: datetime) -> None:
    limit = tokenkit_settings.api_token_limit_per_user
    if limit is None:
        return
    if APIToken.objects.filter(user=user).counted_against_limit(now).count() >= limit:
        raise APITokenLimitReached(
            f"You already have {limit} active API tokens; revoke one before creating another."
        )


def _insert(
    user: AbstractBaseUser,
    *,
    name: str,
    scopes: list[str],
    expires_at: datetime | None,
    now: datetime,
    rotated_from: APIToken | None = None,
) -> IssuedAPIToken:
    raw = api_token_format.generate()
    record = APIToken.objects.create(
        user=user,
        name=name,
        digest=api_token_format.digest(raw),
        hint=api_token_format.hint(raw),
        scopes=scopes,
        created_at=now,
        expires_at=expires_at,
        rotated_from=rotated_from,
    )
    return IssuedAPIToken(raw, record)


def create(
    user: AbstractBaseUser,
    *,
    name: object,
    expires_in: timedelta | None,
    scopes: Iterable[object] = (),
    request: HttpRequest | None = None,
) -> IssuedAPIToken:
    """Create an API token for ``user``; the result holds the secret, once.

    ``expires_in`` is required: a duration, or None for a token that never
    expires (refused when ``API_TOKEN_MAX_LIFETIME`` is set). Raises
    :class:`InvalidAPITokenRequest` or :class:`APITokenLimitReached`; nothing
    is created then.
    """
    cleaned_name, cleaned_scopes = _clean_name(name), _clean_scopes(scopes)
    now = timezone.now()
    expires_at = _expiry(expires_in, now)
    with transaction.atomic():
        _lock_owner(user)
        _check_limit(user, now)
        issued = _insert(
            user, name=cleaned_name, scopes=cleaned_scopes, expires_at=expires_at, now=now
        )
    logger.info("tokenkit API token %s created for user %s", issued.record.pk, user.pk)
    signals.api_token_created.send(sender=APIToken, token=issued.record, user=user, request=request)
    return issued


def rotate(
    record: APIToken,
    *,
    grace: timedelta = timedelta(0),
    expires_in: timedelta | None | _Unset = UNSET,
    request: HttpRequest | None = None,
) -> IssuedAPIToken:
    """Replace ``record`` with a new token of the same name and scopes.

    The old token keeps working until ``min(its expiry, now + grace)``, so a
    job can switch without a moment in which neither works. ``expires_in``
    defaults to the old token's lifetime (never, if it never expired).
    Raises :class:`APITokenNotRotatable` for a revoked, expired or already
    rotated token, :class:`InvalidAPITokenRequest` for a bad grace or expiry.
    """
    if not timedelta(0) <= grace <= MAX_GRACE:
        raise InvalidAPITokenRequest(
            f"grace_seconds must be between 0 and {int(MAX_GRACE.total_seconds())}."
        )
    now = timezone.now()
    with transaction.atomic():
        old = APIToken.objects.select_for_update().filter(pk=record.pk).first()
        if old is None or old.rotated_at is not None or old.status(now) != "active":
            raise APITokenNotRotatable("No active API token with that id.")
        if isinstance(expires_in, _Unset):
            lifetime = None if old.expires_at is None else old.expires_at - old.created_at
        else:
            lifetime = expires_in
        expires_at = _expiry(lifetime, now)
        issued = _insert(
            old.user,
            name=old.name,
            scopes=list(old.scopes or []),
            expires_at=expires_at,
            now=now,
            rotated_from=old,
        )
        cutoff = now + grace
        old.expires_at = cutoff if old.expires_at is None else min(old.expires_at, cutoff)
        old.rotated_at = now
        old.save(update_fields=["expires_at", "rotated_at"])
        unpublished = outbox.record(
            [outbox.for_api_token(old.digest, api_token_store.relevant_until(now))]
        )
    transaction.on_commit(lambda: revocation.publish(unpublished))
    logger.info("tokenkit API token %s rotated to %s", old.pk, issued.record.pk)
    signals.api_token_rotated.send(
        sender=APIToken, old=old, new=issued.record, user=old.user, request=request
    )
    return issued


def revoke(records: Iterable[APIToken], reason: str) -> int:
    """Revoke each token, effective on the next request on every process.

    Returns how many this call revoked (revoked ones are skipped, so calling
    it twice is harmless). Sends ``token_revoked`` with ``unit="api_token"``.
    """
    ids = [record.pk for record in records]
    if not ids:
        return 0
    now = timezone.now()
    with transaction.atomic():
        revoked = list(
            APIToken.objects.select_for_update()
            .filter(pk__in=ids, revoked_at__isnull=True)
            .order_by("pk")
            .values_list("pk", "digest", "user_id")
        )
        if not revoked:
            return 0
        APIToken.objects.filter(pk__in=[pk for pk, _, _ in revoked]).update(
            revoked_at=now, revoke_reason=reason
        )
        unpublished = outbox.record(
            outbox.for_api_token(digest, api_token_store.relevant_until(now))
            for _, digest, _ in revoked
        )

    def publish() -> None:
        revocation.publish(unpublished)
        for pk, _, user_id in revoked:
            signals.token_revoked.send(
                sender=APIToken,
                unit="api_token",
                identifier=str(pk),
                reason=reason,
                user_id=user_id,
            )

    transaction.on_commit(publish)
    return len(revoked)


def revoke_presented(raw: str, reason: str) -> int:
    """Revoke the API token ``raw`` itself, for whoever holds it (RFC 7009).

    Returns 1 when this call revoked it, 0 when ``raw`` is malformed (its
    checksum is checked before any query), unknown or already revoked:
    RFC 7009 section 2.2 answers all of these alike.
    """
    if not api_token_format.is_well_formed(raw):
        return 0
    digest = api_token_format.digest(raw)
    return revoke(APIToken.objects.filter(digest=digest, revoked_at__isnull=True), reason)


def revoke_for_users(user_pks: Iterable[Any], reason: str) -> int:
    """Revoke every unrevoked API token of these users; returns how many."""
    pks = [pk for pk in user_pks if pk is not None]
    return revoke(APIToken.objects.filter(user_id__in=pks, revoked_at__isnull=True), reason)


# --- use ---------------------------------------------------------------------------

_last_attempts: dict[str, float] = {}


def record_use(credential: api_token_store.APITokenCredential, request: HttpRequest) -> bool:
    """Write ``last_used_at`` and the IP, at most once per interval per token.

    Each process tries at most once per ``API_TOKEN_LAST_USED_INTERVAL`` per
    token (memory, no cache round trip), and the conditional ``UPDATE`` lets
    only one process in each interval write, so the ``api_token_used``
    signal fires once per interval across all of them. A database failure
    here never fails the request. Returns whether this call wrote.
    """
    interval = tokenkit_settings.api_token_last_used_interval
    moment = time.monotonic()
    last = _last_attempts.get(credential.id)
    if last is not None and moment - last < interval.total_seconds():
        return False
    _last_attempts[credential.id] = moment
    now = timezone.now()
    try:
        written = (
            APIToken.objects.filter(pk=credential.id)
            .filter(Q(last_used_at__isnull=True) | Q(last_used_at__lte=now - interval))
            .update(last_used_at=now, last_used_ip=_client_ip(request))
        )
    except DatabaseError:
        logger.warning("tokenkit could not record the use of API token %s", credential.id)
        return False
    if written:
        signals.api_token_used.send(sender=APIToken, token=credential, request=request)
    return bool(written)


def _client_ip(request: HttpRequest) -> str | None:
    value = request.META.get("REMOTE_ADDR") or None
    if value is None:
        return None
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def forget_uses() -> None:
    """Tests: forget when this process last recorded each token's use."""
    _last_attempts.clear()


# --- expiry warnings -------------------------------------------------------------------


@dataclass(frozen=True)
class ExpiryWarning:
    """One warning :func:`send_expiry_warnings` sent."""

    token: APIToken
    threshold: timedelta


def send_expiry_warnings(now: datetime | None = None) -> list[ExpiryWarning]:
    """Warn the owner of each token about to expire, once per threshold.

    For each active, expiring token within the largest of
    ``API_TOKEN_EXPIRY_WARNINGS``, the smallest threshold it has crossed is
    warned about, unless that was done before: the ``api_token_expiring``
    signal, and an email to the owner when they have an address. Larger
    thresholds it crossed without a warning (a token created with a short
    lifetime) are recorded as done, so no run sends a stale "7 days left".

    Safe to run every minute from several machines: the warning's unique
    row is inserted in the same transaction as the email is sent, so one
    run sends it; a failed send rolls the row back and the next run tries
    again.
    """
    moment = now or timezone.now()
    thresholds = tokenkit_settings.api_token_expiry_warnings
    if not thresholds:
        return []
    candidates = (
        APIToken.objects.active(moment)
        .filter(rotated_at__isnull=True, expires_at__isnull=False)
        .filter(expires_at__lte=moment + thresholds[0])
        .select_related("user")
        .order_by("expires_at")
    )
    sent: list[ExpiryWarning] = []
    for record in candidates.iterator():
        assert record.expires_at is not None
        crossed = [t for t in thresholds if record.expires_at - moment <= t]
        warning = _warn_once(record, crossed)
        if warning is not None:
            sent.append(warning)
    return sent


def _warn_once(record: APIToken, crossed: Sequence[timedelta]) -> ExpiryWarning | None:
    smallest = min(crossed)
    try:
        with transaction.atomic():
            _, created = APITokenExpiryWarning.objects.get_or_create(
                token=record, threshold=smallest
            )
            if not created:
                return None
            APITokenExpiryWarning.objects.bulk_create(
                [
                    APITokenExpiryWarning(token=record, threshold=t)
                    for t in crossed
                    if t != smallest
                ],
                ignore_conflicts=True,
            )
            signals.api_token_expiring.send(
                sender=APIToken,
                token=record,
                user=record.user,
                threshold=smallest,
                expires_at=record.expires_at,
            )
            _email_owner(record)
    except IntegrityError:
        return None  # another run inserted it first: it sends
    return ExpiryWarning(record, smallest)


def _email_owner(record: APIToken) -> None:
    address = getattr(record.user, "email", "")
    if not address:
        return
    assert record.expires_at is not None
    when = record.expires_at.strftime("%Y-%m-%d %H:%M UTC")
    send_mail(
        subject=f"Your API token {record.name!r} expires on {when}",
        message=(
            f"The API token {record.name!r} ({record.hint}) expires on {when}.\n\n"
            "Whatever uses it (a script, a scheduled job, a CI pipeline) stops working "
            "then. Rotate it before that date to get a replacement; the old token can "
            "keep working for a grace period while you switch.\n"
        ),
        from_email=None,
        recipient_list=[address],
    )
