"""What tokenkit records: sessions, issued refresh tokens and revoked token ids.

No raw token or secret is ever stored. A token is found by its ``jti`` (a
random id that is useless without the signing key), so a database dump
cannot be replayed as credentials.

The database is the source of truth for revocation; the shared cache only
makes reading it cheap (see :mod:`django_tokenkit.revocation`).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar, TypeVar

from django.conf import settings
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


class PendingRevocation(models.Model):
    """A revocation the shared cache may not know of yet: the outbox.

    Written in the same transaction as the revocation itself and deleted once
    its cache markers are written, so a revocation that could not reach the
    cache (a partition, a crash between commit and publish) is still on
    record. Every process reads this table at least every
    ``REVOCATION_OUTBOX_INTERVAL`` and refuses what it lists until some
    process has published it (see :mod:`django_tokenkit.outbox`).
    """

    class Kind(models.TextChoices):
        SESSION = "session"
        TOKEN = "token"
        #: An API token whose cached state may be stale: read it from the database.
        API_TOKEN = "api_token"

    id = models.BigAutoField(primary_key=True)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    #: The ``sid`` of a revoked session, the ``jti`` of a revoked token, or the
    #: digest of an API token whose revocation or rotation the cache may lack.
    identifier = models.CharField(_("identifier"), max_length=64)
    #: For a token: its session, whose cached state lists revoked token ids.
    sid = models.CharField(_("session id"), max_length=64, blank=True, default="")
    #: When nothing it revokes can be presented any more.
    expires_at = models.DateTimeField(_("expires"))
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("pending revocation")
        verbose_name_plural = _("pending revocations")
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.identifier}"


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
