"""The revoked-token pages: single revoked token ids, kept until they would have expired."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from django_tokenkit import tokens
from django_tokenkit.admin.actions import revoke_users_action
from django_tokenkit.admin.filters import StatusFilter, UserFilter
from django_tokenkit.admin.options import RevocationAdmin
from django_tokenkit.admin.utils import user_link
from django_tokenkit.models import BlacklistedToken, Session


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
    session_choice = (
        _("Revoke its session"),
        _("Every other token of the session this token belonged to stops too."),
    )

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

    def session_of(self, obj: BlacklistedToken) -> Session | None:
        return obj.session

    def user_id_of(self, obj: BlacklistedToken) -> Any:
        return obj.user_id
