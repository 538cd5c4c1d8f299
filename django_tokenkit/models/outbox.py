"""The revocation outbox's table; :mod:`django_tokenkit.outbox` reads and writes it."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


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
