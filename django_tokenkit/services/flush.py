"""Flushing: delete the rows nothing can present any more, in short batches.

The ``tokenkit_flush`` command's engine. Nothing is revoked here, so no
signal is sent and the cache is left alone: a row goes only once every
token it answers for has expired (see :func:`_flush_rules`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils import timezone

from django_tokenkit.conf import tokenkit_settings
from django_tokenkit.models import BlacklistedToken, IssuedToken, PendingRevocation, Session

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
    the revocation store (``django_tokenkit.revocation``) treats a missing session as revoked
    and :func:`~django_tokenkit.services.rotation.refresh` answers a token
    with no record ``TokenRevoked``.
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
