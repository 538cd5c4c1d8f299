"""The issued-token pages: refresh tokens as issued, each with its access token."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import quote
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from django_tokenkit import tokens
from django_tokenkit.admin.actions import (
    ISSUED_TOKENS,
    SESSIONS,
    RevokeChoice,
    revoke_action,
    revoke_pair,
    revoke_users_action,
)
from django_tokenkit.admin.filters import SessionFilter, StatusFilter, TokenUserFilter
from django_tokenkit.admin.options import RevocationAdmin
from django_tokenkit.admin.utils import admin_url, user_link
from django_tokenkit.models import IssuedToken, Session, TokenStatus


class IssuedTokenAdmin(RevocationAdmin[IssuedToken]):
    """Refresh tokens as issued, each with the access token minted beside it."""

    list_display = (
        "jti",
        "token_type",
        "user_column",
        "status",
        "issued_at",
        "expires_at",
        "session_column",
        "last_used_column",
        "ip_column",
    )
    list_select_related = ("session__user",)
    ordering = ("-issued_at",)
    list_filter = (
        StatusFilter,
        "token_type",
        "issued_at",
        TokenUserFilter,
        SessionFilter,
    )
    search_fields = ("=jti", "session__user__username", "session__user__email")
    search_help_text = _("A username or email (or part of one), or an exact token id.")
    actions = ("revoke_selected", "revoke_sessions", "revoke_users")
    fieldsets = (
        (None, {"fields": ("jti", "token_type", "status", "session", "user")}),
        (
            _("Lifetime"),
            {"fields": ("issued_at", "expires_at", "rotated_at", "replaced_by", "revoked_at")},
        ),
        (_("Access token issued with it"), {"fields": ("access_jti", "access_expires_at")}),
    )
    readonly_fields = (
        "jti",
        "token_type",
        "status",
        "session",
        "user",
        "issued_at",
        "expires_at",
        "rotated_at",
        "replaced_by",
        "revoked_at",
        "access_jti",
        "access_expires_at",
    )

    revoke_selected = revoke_action(
        "revoke_selected",
        description=_("Revoke selected tokens"),
        target=ISSUED_TOKENS,
        select=lambda records: records.filter(revoked_at__isnull=True),
        title=_("Revoke the selected tokens?"),
        question=_(
            "Each refresh token and the access token issued with it stop working on "
            "the next request. Their sessions stay logged in: to end a session, "
            "revoke the session instead."
        ),
    )
    revoke_sessions = revoke_action(
        "revoke_sessions",
        description=_("Revoke the sessions of selected tokens"),
        target=SESSIONS,
        select=lambda records: Session.objects.filter(
            pk__in=records.values("session"), revoked_at__isnull=True
        ),
        title=_("Revoke the sessions of the selected tokens?"),
        question=_("These sessions end at once, with every token they issued."),
    )
    revoke_users = revoke_users_action("session__user")
    session_choice = (_("Revoke its session"), _("Every token of this session stops working."))

    def get_queryset(self, request: HttpRequest) -> QuerySet[IssuedToken]:
        queryset: QuerySet[IssuedToken] = (
            super().get_queryset(request).select_related("session__user")
        )
        return queryset

    def parse_object_id(self, object_id: str) -> str | None:
        return object_id if tokens.is_well_formed_jti(object_id) else None

    def filter_by_users(
        self, queryset: QuerySet[IssuedToken], users: QuerySet[Any]
    ) -> QuerySet[IssuedToken]:
        # Through the session's user index, then the token's session index.
        narrowed: QuerySet[IssuedToken] = queryset.filter(
            session__in=Session.objects.filter(user__in=users)
        )
        return narrowed

    @admin.display(description=_("user"))
    def user_column(self, obj: IssuedToken) -> SafeString | str:
        return user_link(obj.session.user, obj.session.user_id)

    @admin.display(description=_("user"))
    def user(self, obj: IssuedToken) -> Any:
        return obj.session.user

    @admin.display(description=_("session"))
    def session_column(self, obj: IssuedToken) -> SafeString | str:
        url = admin_url(self.admin_site, "tokenkit_session_change", quote(obj.session_id))
        label = str(obj.session_id)[:8]
        return label if url is None else format_html('<a href="{}">{}</a>', url, label)

    @admin.display(description=_("session last used"))
    def last_used_column(self, obj: IssuedToken) -> datetime | None:
        return obj.session.last_used_at

    @admin.display(description=_("IP address"))
    def ip_column(self, obj: IssuedToken) -> str | None:
        return obj.session.ip_address

    def session_of(self, obj: IssuedToken) -> Session:
        return obj.session

    def user_id_of(self, obj: IssuedToken) -> Any:
        return obj.session.user_id

    def revoke_choices(self, obj: IssuedToken) -> list[RevokeChoice]:
        choices = super().revoke_choices(obj)
        if (
            obj.session.status() == TokenStatus.ACTIVE
            and obj.revoked_at is None
            and not obj.pair_expired()
        ):
            choices.insert(
                0,
                RevokeChoice(
                    "token",
                    str(_("Revoke this token")),
                    str(
                        _(
                            "This refresh token and the access token issued with it stop "
                            "working; the session stays logged in."
                        )
                    ),
                ),
            )
        return choices

    def perform_revoke(self, request: HttpRequest, obj: IssuedToken, scope: str) -> str:
        if scope == "token":
            return revoke_pair(obj)
        return super().perform_revoke(request, obj, scope)
