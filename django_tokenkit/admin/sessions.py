"""The session pages: one row per login, with its newest tokens inline."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.db.models import QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from django_tokenkit.admin.actions import SESSIONS, revoke_action, revoke_users_action
from django_tokenkit.admin.filters import StatusFilter, UserFilter
from django_tokenkit.admin.options import RevocationAdmin
from django_tokenkit.admin.utils import admin_url, status_badge, user_link
from django_tokenkit.models import IssuedToken, Session

if TYPE_CHECKING:
    _TabularInline = admin.TabularInline[IssuedToken, Session]
    _InlineFormSet = BaseInlineFormSet[IssuedToken, Session, Any]
else:
    # Generic only in django-stubs; at run time they cannot be subscripted.
    _TabularInline = admin.TabularInline
    _InlineFormSet = BaseInlineFormSet

#: Newest tokens shown inline on a session's page.
SESSION_INLINE_LIMIT = 20


class IssuedTokenInline(_TabularInline):
    """The newest tokens of a session, read-only, on the session's page."""

    model = IssuedToken
    # Each row starts with the token's type and id, linked to its page (the
    # id is the primary key, which a tabular inline would only hide).
    fields = ("inline_status", "issued_at", "expires_at", "rotated_at", "revoked_at")
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = True
    verbose_name = _("issued token")
    verbose_name_plural = _("newest issued tokens")

    class formset(_InlineFormSet):  # noqa: N801 - Django's attribute name
        def get_queryset(self) -> QuerySet[IssuedToken]:
            # Sliced after the formset narrowed it to this session (a sliced
            # queryset cannot be filtered), and kept, so the rows are read once.
            if not hasattr(self, "_newest"):
                self._newest: QuerySet[IssuedToken] = super().get_queryset()[:SESSION_INLINE_LIMIT]
            return self._newest

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=_("status"))
    def inline_status(self, obj: IssuedToken) -> SafeString:
        return status_badge(obj.status())


class SessionAdmin(RevocationAdmin[Session]):
    """Sessions: one row per login, with its newest tokens inline."""

    list_display = (
        "short_id",
        "user_column",
        "status",
        "created_at",
        "expires_at",
        "last_used_at",
        "ip_address",
        "user_agent_column",
    )
    list_display_links = ("short_id",)
    list_select_related = ("user",)
    # Newest first, read in order from an index (see the model's indexes).
    ordering = ("-created_at",)
    list_filter = (StatusFilter, "created_at", "revoke_reason", UserFilter)
    # Django shows the search box only when this is set; the matching itself
    # is RevocationAdmin.get_search_results.
    search_fields = ("=id", "user__username", "user__email")
    search_help_text = _("A username or email (or part of one), or an exact session id.")
    actions = ("revoke_selected", "revoke_users")
    inlines = (IssuedTokenInline,)
    fieldsets = (
        (None, {"fields": ("id", "user", "status", "tokens_link")}),
        (_("Lifetime"), {"fields": ("auth_time", "created_at", "expires_at", "last_used_at")}),
        (_("Client"), {"fields": ("ip_address", "user_agent")}),
        (_("Revoked"), {"fields": ("revoked_at", "revoke_reason")}),
    )
    readonly_fields = (
        "id",
        "user",
        "status",
        "tokens_link",
        "auth_time",
        "created_at",
        "expires_at",
        "last_used_at",
        "ip_address",
        "user_agent",
        "revoked_at",
        "revoke_reason",
    )

    revoke_selected = revoke_action(
        "revoke_selected",
        description=_("Revoke selected sessions"),
        target=SESSIONS,
        select=lambda sessions: sessions.filter(revoked_at__isnull=True),
        title=_("Revoke the selected sessions?"),
        question=_(
            "These sessions end at once: their access and refresh tokens stop "
            "working on the next request. Sessions already revoked are left as they are."
        ),
    )
    revoke_users = revoke_users_action("user")
    session_choice = (
        _("Revoke this session"),
        _("Its access and refresh tokens stop working on the next request."),
    )

    def get_fieldsets(self, request: HttpRequest, obj: Session | None = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)
        if obj is not None and obj.revoked_at is None:
            # Nothing to show under "Revoked" yet; the box above says what can be done.
            return [f for f in fieldsets if "revoked_at" not in f[1].get("fields", ())]
        return fieldsets

    def get_queryset(self, request: HttpRequest) -> QuerySet[Session]:
        queryset: QuerySet[Session] = super().get_queryset(request).select_related("user")
        return queryset

    def parse_object_id(self, object_id: str) -> uuid.UUID | None:
        try:
            return uuid.UUID(object_id)
        except ValueError:
            return None

    @admin.display(description=_("session"), ordering="id")
    def short_id(self, obj: Session) -> str:
        return str(obj.pk)[:8]

    @admin.display(description=_("user"))
    def user_column(self, obj: Session) -> SafeString | str:
        return user_link(obj.user, obj.user_id)

    @admin.display(description=_("user agent"))
    def user_agent_column(self, obj: Session) -> str:
        return Truncator(obj.user_agent).chars(48)

    @admin.display(description=_("tokens"))
    def tokens_link(self, obj: Session) -> SafeString | str:
        url = admin_url(self.admin_site, "tokenkit_issuedtoken_changelist")
        count = IssuedToken.objects.filter(session=obj).count()
        label = ngettext("%(count)d issued token", "%(count)d issued tokens", count) % {
            "count": count
        }
        if url is None:
            return label
        return format_html('<a href="{}?session={}">{}</a>', url, obj.pk, label)

    def session_of(self, obj: Session) -> Session:
        return obj

    def user_id_of(self, obj: Session) -> Any:
        return obj.user_id
