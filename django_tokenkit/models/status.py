"""The status and reason vocabularies, and the queryset every status rule extends.

:class:`TokenStatus` is the one list of status names; each model's rule for
telling them apart lives beside the model (``status()`` on a row,
``status_condition()`` on its :class:`StatusQuerySet` subclass), so the
admin's filters and badges, the sessions endpoint, refresh and revocation
all read the same rule.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, ClassVar, TypeVar

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from django.utils.functional import _StrOrPromise
    from typing_extensions import Self

_M = TypeVar("_M", bound=models.Model)


class RevokeReason(models.TextChoices):
    """Why a session or token stopped working; shown in the admin and signals.

    Labels are derived from the names (``"Password Change"``); explicit lazy
    labels would hide the members' ``str`` type from django-stubs.
    """

    LOGOUT = "logout"
    LOGOUT_ALL = "logout_all"
    USER_REQUEST = "user_request"
    ADMIN = "admin"
    REUSE = "reuse"
    PASSWORD_CHANGE = "password_change"
    USER_DEACTIVATED = "user_deactivated"
    COMMAND = "command"


class TokenStatus(models.TextChoices):
    """Where a session or token stands; each model says which of these it can be in.

    The one list of status names: the admin's filters and badges, and any
    other caller, take them from here, and each model's rule for telling
    them apart lives beside it (``status()`` on a row, ``with_status()`` on
    a queryset). Each row shows its :attr:`label`.
    """

    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"
    #: An issued refresh token a refresh exchanged for a new pair.
    ROTATED = "rotated"
    #: A blacklist entry whose token would still be accepted without it.
    IN_FORCE = "in_force"

    # The labels are set here rather than as ("active", _("active")) members:
    # django-stubs' plugin would then type each member as that tuple, not str.
    @property
    def label(self) -> _StrOrPromise:
        return _STATUS_LABELS[self.value]


_STATUS_LABELS: dict[str, _StrOrPromise] = {
    TokenStatus.ACTIVE: _("active"),
    TokenStatus.EXPIRED: _("expired"),
    TokenStatus.REVOKED: _("revoked"),
    TokenStatus.ROTATED: _("rotated"),
    TokenStatus.IN_FORCE: _("still in force"),
}


class StatusQuerySet(models.QuerySet[_M]):
    """A queryset that can narrow its rows to one :class:`TokenStatus`.

    Each model's subclass writes its rule once, as :meth:`status_condition`;
    the model's ``status()`` method is the same rule for a row in memory,
    written next to it so the two are read (and tested) together.
    """

    #: The statuses a row of this model can have, in the order a list offers them.
    statuses: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def status_condition(cls, status: str, now: datetime) -> Q:
        """The ``WHERE`` condition of ``status`` at ``now``."""
        raise NotImplementedError

    def with_status(self, status: str, now: datetime | None = None) -> Self:
        """The rows with ``status`` at ``now`` (default: the current time).

        Raises ``ValueError`` for a status this model's rows cannot have.
        """
        if status not in self.statuses:
            raise ValueError(f"{self.model.__name__} has no status {status!r}.")
        narrowed: Self = self.filter(self.status_condition(status, now or timezone.now()))
        return narrowed

    def expired(self, now: datetime | None = None) -> Self:
        """Rows past their expiry (and, where that applies, neither revoked nor rotated)."""
        return self.with_status(TokenStatus.EXPIRED, now)

    def not_revoked(self) -> Self:
        """Rows not revoked yet, expired ones included: what a revocation still marks.

        Not ``active()``, which leaves out expired rows: revoking a user or a
        session marks the rows past their expiry too, so the revocation is on
        record whatever reads them later, and a second run finds nothing left
        to revoke. Only for a model with a ``revoked`` status; raises
        ``ValueError`` otherwise.
        """
        if TokenStatus.REVOKED not in self.statuses:
            raise ValueError(f"{self.model.__name__} has no status 'revoked'.")
        # Revoked does not depend on the time: any ``now`` gives the same condition.
        remaining: Self = self.exclude(self.status_condition(TokenStatus.REVOKED, timezone.now()))
        return remaining
