"""API tokens (SPEC section 6, "API tokens") and the expiry warnings sent for them.

Only :mod:`django_tokenkit.services.api_tokens` writes these rows.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from django_tokenkit.models.status import RevokeReason, StatusQuerySet, TokenStatus

if TYPE_CHECKING:
    from typing_extensions import Self


class APITokenQuerySet(StatusQuerySet["APIToken"]):
    """The status rules of API tokens (admin, endpoints, the per-user limit)."""

    statuses = (TokenStatus.ACTIVE, TokenStatus.EXPIRED, TokenStatus.REVOKED)

    @classmethod
    def status_condition(cls, status: str, now: datetime) -> Q:
        """Revoked wins over expired; a token with no expiry never expires.

        A rotated token stays "active" through its grace period (its
        ``expires_at`` was moved to the grace's end) and is "expired" after.
        """
        if status == TokenStatus.REVOKED:
            return Q(revoked_at__isnull=False)
        if status == TokenStatus.EXPIRED:
            return Q(revoked_at__isnull=True, expires_at__lte=now)
        return Q(revoked_at__isnull=True) & (Q(expires_at__isnull=True) | Q(expires_at__gt=now))

    def active(self, now: datetime | None = None) -> Self:
        return self.with_status(TokenStatus.ACTIVE, now)

    def revoked(self) -> Self:
        return self.with_status(TokenStatus.REVOKED)

    def counted_against_limit(self, now: datetime | None = None) -> Self:
        """Active and not rotated away: what ``API_TOKEN_LIMIT_PER_USER`` counts."""
        counted: Self = self.active(now).filter(rotated_at__isnull=True)
        return counted


class APIToken(models.Model):
    """A long-lived opaque token for a script or a job (SPEC section 6, "API tokens").

    Only the SHA-256 ``digest`` of the token is kept; the token itself is
    shown once, in the response that created it. ``expires_at`` is None only
    when whoever created it chose "never" explicitly (``expires_in: null``).
    Sessions, refresh and sliding never touch these rows.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="tokenkit_api_tokens",
    )
    name = models.CharField(_("name"), max_length=100)
    digest = models.CharField(_("digest"), max_length=64, unique=True, editable=False)
    hint = models.CharField(_("hint"), max_length=8, editable=False)
    scopes = models.JSONField(_("scopes"), default=list, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    expires_at = models.DateTimeField(
        _("expires"), null=True, blank=True, help_text=_("Empty: never expires.")
    )
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    last_used_ip = models.GenericIPAddressField(_("last IP address"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    revoke_reason = models.CharField(
        _("revoke reason"), max_length=32, choices=RevokeReason.choices, blank=True, default=""
    )
    #: The token this one replaced (``rotate/``); that one ends at the grace's end.
    rotated_from = models.OneToOneField(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="rotated_to",
    )
    #: When a successor was issued; a rotated token cannot be rotated again.
    rotated_at = models.DateTimeField(_("rotated"), null=True, blank=True)

    objects = APITokenQuerySet.as_manager()

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["user", "revoked_at"], name="tokenkit_apitoken_user_idx"),
            models.Index(fields=["expires_at"], name="tokenkit_apitoken_expires_idx"),
            models.Index(fields=["created_at"], name="tokenkit_apitoken_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.hint})"

    @property
    def never_expires(self) -> bool:
        return self.expires_at is None

    def status(self, now: datetime | None = None) -> str:
        """The rule of :meth:`APITokenQuerySet.status_condition`, for a row in memory."""
        if self.revoked_at is not None:
            return TokenStatus.REVOKED
        if self.expires_at is not None and self.expires_at <= (now or timezone.now()):
            return TokenStatus.EXPIRED
        return TokenStatus.ACTIVE


class APITokenExpiryWarning(models.Model):
    """One expiry warning sent for one token at one threshold; at most one each.

    The unique constraint is what makes ``tokenkit_api_token notify`` send
    each warning once even when several machines run it at the same minute.
    """

    token = models.ForeignKey(APIToken, on_delete=models.CASCADE, related_name="warnings")
    threshold = models.DurationField(_("threshold"))
    sent_at = models.DateTimeField(_("sent"), default=timezone.now)

    class Meta:
        verbose_name = _("API token expiry warning")
        verbose_name_plural = _("API token expiry warnings")
        constraints = [
            models.UniqueConstraint(
                fields=["token", "threshold"], name="tokenkit_apitoken_warning_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.token_id} {self.threshold}"
