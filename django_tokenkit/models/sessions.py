"""Sessions and the JWTs that descend from them: issued refresh tokens, the blacklist.

No raw token is stored: a token is found by its ``jti``. Writers lock a
session's row before its tokens' rows (see
:func:`django_tokenkit.services.revocation.lock_sessions`).
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


class SessionQuerySet(StatusQuerySet["Session"]):
    statuses = (TokenStatus.ACTIVE, TokenStatus.EXPIRED, TokenStatus.REVOKED)

    @classmethod
    def status_condition(cls, status: str, now: datetime) -> Q:
        """Revoked wins over expired: a revoked session stays "revoked" past its cap."""
        if status == TokenStatus.REVOKED:
            return Q(revoked_at__isnull=False)
        if status == TokenStatus.EXPIRED:
            return Q(revoked_at__isnull=True, expires_at__lte=now)
        return Q(revoked_at__isnull=True, expires_at__gt=now)

    def active(self, now: datetime | None = None) -> Self:
        """Sessions neither revoked nor past their absolute cap."""
        return self.with_status(TokenStatus.ACTIVE, now)

    def revoked(self) -> Self:
        return self.with_status(TokenStatus.REVOKED)


class Session(models.Model):
    """One login and every token that descends from it (the ``sid`` claim)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="tokenkit_sessions",
    )
    auth_time = models.DateTimeField(
        _("authenticated at"), help_text=_("When the login behind this session happened.")
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    expires_at = models.DateTimeField(
        _("expires"), help_text=_("The absolute cap: no token of this session outlives it.")
    )
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=512, blank=True, default="")
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    revoke_reason = models.CharField(
        _("revoke reason"), max_length=32, choices=RevokeReason.choices, blank=True, default=""
    )

    objects = SessionQuerySet.as_manager()

    class Meta:
        verbose_name = _("session")
        verbose_name_plural = _("sessions")
        ordering = ["-created_at"]
        # ``tokenkit.introspect_token``: who may call ``introspect/`` (RFC 7662).
        # On Session because a permission needs a model; it is about tokens.
        permissions = [("introspect_token", _("Can introspect tokens"))]
        indexes = [
            models.Index(fields=["user", "revoked_at"], name="tokenkit_session_user_idx"),
            models.Index(fields=["expires_at"], name="tokenkit_session_expires_idx"),
            # The admin lists sessions newest first; at a million rows an
            # unindexed ORDER BY sorts the whole table for every page.
            models.Index(fields=["created_at"], name="tokenkit_session_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.id} ({self.user_id})"

    @property
    def sid(self) -> str:
        """The session id as it appears in the ``sid`` claim."""
        return str(self.id)

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def status(self, now: datetime | None = None) -> str:
        """``revoked``, ``expired`` (past its absolute cap) or ``active``.

        The rule of :meth:`SessionQuerySet.status_condition`, for a row in
        memory. A session whose refresh token expired, or that went idle, is
        still "active" until its cap: the database does not record that,
        and refreshing checks it (``SESSION_IDLE_TIMEOUT``) at the time.
        """
        if self.revoked_at is not None:
            return TokenStatus.REVOKED
        if self.expires_at <= (now or timezone.now()):
            return TokenStatus.EXPIRED
        return TokenStatus.ACTIVE


class TokenType(models.TextChoices):
    ACCESS = "access"
    REFRESH = "refresh"


class IssuedTokenQuerySet(StatusQuerySet["IssuedToken"]):
    statuses = (
        TokenStatus.ACTIVE,
        TokenStatus.ROTATED,
        TokenStatus.EXPIRED,
        TokenStatus.REVOKED,
    )

    @classmethod
    def status_condition(cls, status: str, now: datetime) -> Q:
        """Revoked wins over rotated, and rotated over expired."""
        if status == TokenStatus.REVOKED:
            return Q(revoked_at__isnull=False)
        if status == TokenStatus.ROTATED:
            return Q(revoked_at__isnull=True, rotated_at__isnull=False)
        live = Q(revoked_at__isnull=True, rotated_at__isnull=True)
        if status == TokenStatus.EXPIRED:
            return live & Q(expires_at__lte=now)
        return live & Q(expires_at__gt=now)

    def active(self, now: datetime | None = None) -> Self:
        """Refresh tokens that can still be exchanged: not revoked, rotated or expired."""
        return self.with_status(TokenStatus.ACTIVE, now)

    def rotated(self) -> Self:
        return self.with_status(TokenStatus.ROTATED)

    def revoked(self) -> Self:
        return self.with_status(TokenStatus.REVOKED)


class IssuedToken(models.Model):
    """A refresh token tokenkit issued, by ``jti``; its raw form is never kept.

    Rotation retires a row (``rotated_at``) and links it to its successor
    (``replaced_by``), which is how a replay of a retired token is told apart
    from a first use.
    """

    jti = models.CharField(_("token id"), max_length=64, primary_key=True)
    token_type = models.CharField(
        _("type"), max_length=16, choices=TokenType.choices, default=TokenType.REFRESH
    )
    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="tokens")
    issued_at = models.DateTimeField(_("issued"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires"))
    rotated_at = models.DateTimeField(_("rotated"), null=True, blank=True)
    replaced_by = models.OneToOneField(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="replaces",
    )
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    # The access token minted together with this refresh token. With these and
    # the row itself the pair can be signed again byte for byte, which is how a
    # retry within the grace period gets the very same pair without any token
    # being stored.
    access_jti = models.CharField(_("access token id"), max_length=64, blank=True, default="")
    access_expires_at = models.DateTimeField(_("access token expires"), null=True, blank=True)

    objects = IssuedTokenQuerySet.as_manager()

    class Meta:
        verbose_name = _("issued token")
        verbose_name_plural = _("issued tokens")
        ordering = ["-issued_at"]
        indexes = [
            models.Index(fields=["session", "issued_at"], name="tokenkit_token_session_idx"),
            models.Index(fields=["expires_at"], name="tokenkit_token_expires_idx"),
            models.Index(fields=["issued_at"], name="tokenkit_token_issued_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.token_type} {self.jti}"

    def status(self, now: datetime | None = None) -> str:
        """``revoked``, ``rotated`` (retired by a refresh), ``expired`` or ``active``.

        The rule of :meth:`IssuedTokenQuerySet.status_condition`, for a row
        in memory. It is the refresh token's status; its session's status
        is not taken into account (revoking a session marks its tokens too).
        """
        if self.revoked_at is not None:
            return TokenStatus.REVOKED
        if self.rotated_at is not None:
            return TokenStatus.ROTATED
        if self.expires_at <= (now or timezone.now()):
            return TokenStatus.EXPIRED
        return TokenStatus.ACTIVE

    def pair_expired(self, now: datetime | None = None) -> bool:
        """Whether both this refresh token and the access token issued with it expired.

        Until then revoking the row still stops a token a client may hold.
        """
        moment = now or timezone.now()
        access_expires_at = self.access_expires_at
        return self.expires_at <= moment and (
            access_expires_at is None or access_expires_at <= moment
        )


class BlacklistedTokenQuerySet(StatusQuerySet["BlacklistedToken"]):
    statuses = (TokenStatus.IN_FORCE, TokenStatus.EXPIRED)

    @classmethod
    def status_condition(cls, status: str, now: datetime) -> Q:
        """In force while the token it blocks would still verify."""
        if status == TokenStatus.EXPIRED:
            return Q(expires_at__lte=now)
        return Q(expires_at__gt=now)

    def in_force(self, now: datetime | None = None) -> Self:
        """Entries still needed: the token they block has not expired yet."""
        return self.with_status(TokenStatus.IN_FORCE, now)


class BlacklistedToken(models.Model):
    """A single revoked token id, kept until the token would have expired anyway."""

    jti = models.CharField(_("token id"), max_length=64, primary_key=True)
    token_type = models.CharField(_("type"), max_length=16, choices=TokenType.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
    )
    session = models.ForeignKey(
        Session, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    expires_at = models.DateTimeField(_("expires"))
    revoked_at = models.DateTimeField(_("revoked"), default=timezone.now)
    reason = models.CharField(
        _("reason"), max_length=32, choices=RevokeReason.choices, blank=True, default=""
    )

    objects = BlacklistedTokenQuerySet.as_manager()

    class Meta:
        verbose_name = _("revoked token")
        verbose_name_plural = _("revoked tokens")
        ordering = ["-revoked_at"]
        indexes = [
            models.Index(fields=["expires_at"], name="tokenkit_blacklist_expires_idx"),
            models.Index(fields=["revoked_at"], name="tokenkit_blacklist_revoked_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.token_type} {self.jti}"

    def status(self, now: datetime | None = None) -> str:
        """``in_force`` while the token would still be valid, then ``expired``.

        The rule of :meth:`BlacklistedTokenQuerySet.status_condition`, for a
        row in memory.
        """
        return (
            TokenStatus.IN_FORCE
            if self.expires_at > (now or timezone.now())
            else TokenStatus.EXPIRED
        )
