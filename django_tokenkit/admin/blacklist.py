"""The revoked-token pages: single revoked token ids, kept until they would have expired."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from django_tokenkit import tokens
from django_tokenkit.admin.actions import (
    RevokeChoice,
    revoke_session,
    revoke_user,
    revoke_users_action,
    user_choice,
)
from django_tokenkit.admin.filters import StatusFilter, UserFilter
from django_tokenkit.admin.options import RevocationAdmin
from django_tokenkit.admin.utils import user_link
from django_tokenkit.models import BlacklistedToken, TokenStatus


class BlacklistedTokenAdmin(RevocationAdmin[BlacklistedToken]):
    """Single revoked tokens, kept until they would have expired anyway."""

    list_display = (
        "jti",
        "token_type",
        "user_column",
        "reason",
        "revoked_at",
        "expires_at",
        "status",
    )
    list_select_related = ("user",)
    ordering = ("-revoked_at",)
    list_filter = (StatusFilter, "token_type", "reason", "revoked_at", UserFilter)
    search_fields = ("=jti", "user__username", "user__email")
    search_help_text = _("A username or email (or part of one), or an exact token id.")
    actions = ("revoke_users",)
    fieldsets = (
        (None, {"fields": ("jti", "token_type", "status", "user", "session")}),
        (_("Revocation"), {"fields": ("reason", "revoked_at", "expires_at")}),
    )
    readonly_fields = (
        "jti",
        "token_type",
        "status",
        "user",
        "session",
        "reason",
        "revoked_at",
        "expires_at",
    )

    revoke_users = revoke_users_action("user")

    def get_queryset(self, request: HttpRequest) -> QuerySet[BlacklistedToken]:
        queryset: QuerySet[BlacklistedToken] = (
            super().get_queryset(request).select_related("user", "session")
        )
        return queryset

    def parse_object_id(self, object_id: str) -> str | None:
        return object_id if tokens.is_well_formed_jti(object_id) else None

    @admin.display(description=_("user"))
    def user_column(self, obj: BlacklistedToken) -> SafeString | str:
        return user_link(obj.user, obj.user_id)

    def revoke_choices(self, obj: BlacklistedToken) -> list[RevokeChoice]:
        choices = []
        if obj.session is not None and obj.session.status() == TokenStatus.ACTIVE:
            choices.append(
                RevokeChoice(
                    "session",
                    str(_("Revoke its session")),
                    str(_("Every other token of the session this token belonged to stops too.")),
                )
            )
        return choices + user_choice(obj.user_id)

    def perform_revoke(self, request: HttpRequest, obj: BlacklistedToken, scope: str) -> str:
        if scope == "user":
            return revoke_user(obj.user_id)
        return revoke_session(obj.session)
