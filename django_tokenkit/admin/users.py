"""tokenkit in the User admin: an opt-in, never a side effect of installing the app.

A project opts in from its own ``admin.py``::

    from django.contrib import admin
    from django_tokenkit.admin.users import extend_user_admin

    extend_user_admin(admin.site)

which swaps Django's stock ``UserAdmin`` for :class:`TokenkitUserAdmin`. A
project with its own user admin puts :class:`TokenkitUserAdminMixin` first
among its bases instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.contrib.admin.options import IS_POPUP_VAR
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from django_tokenkit.admin.actions import revoke_users_action
from django_tokenkit.admin.utils import (
    USER_PARAMETER,
    admin_url,
    can_revoke,
    can_view_sessions,
)
from django_tokenkit.models import APIToken, Session

if TYPE_CHECKING:
    _UserAdminBase = admin.ModelAdmin[Any]
    _StockUserAdmin = UserAdmin[Any]
else:
    # The mixin is typed as a ModelAdmin for mypy; at run time it is a plain
    # mixin, and UserAdmin cannot be subscripted.
    _UserAdminBase = object
    _StockUserAdmin = UserAdmin


class TokenkitUserAdminMixin(_UserAdminBase):
    """Adds tokenkit to a user admin: links to each user's tokens, and a revoke action.

    Put it first among the bases of your project's user admin::

        @admin.register(User)
        class MyUserAdmin(TokenkitUserAdminMixin, UserAdmin):
            ...

    (with Django's stock ``UserAdmin``, call :func:`extend_user_admin`
    instead). It adds a "tokens" column to the list (links to the user's
    sessions and API tokens), a "Tokens" section to the user's page (active
    sessions and API tokens, links to their sessions, API tokens and revoked
    tokens) and the action "Revoke all sessions and API tokens", which asks
    for confirmation first. The column and section need the permission to
    view sessions, the action the permission to change them.
    """

    tokenkit_revoke_all_sessions = revoke_users_action(
        "pk",
        name="tokenkit_revoke_all_sessions",
        description=_("Revoke all sessions and API tokens of selected %(verbose_name_plural)s"),
        permission="tokenkit_revoke",
    )

    def has_tokenkit_revoke_permission(self, request: HttpRequest) -> bool:
        """Revoking a user's sessions needs the permission to change sessions."""
        return can_revoke(request)

    def get_list_display(self, request: HttpRequest) -> Any:
        list_display = list(super().get_list_display(request))
        if can_view_sessions(request) and "tokenkit_sessions_link" not in list_display:
            list_display.append("tokenkit_sessions_link")
        return list_display

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and can_view_sessions(request):
            fields.append("tokenkit_sessions_summary")
        return fields

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None or not can_view_sessions(request):
            return fieldsets
        name = "tokenkit_sessions_summary"
        # Without declared fieldsets Django puts every read-only field in the
        # first one; ours gets its own section instead.
        cleaned = [
            (title, {**options, "fields": [f for f in options["fields"] if f != name]})
            for title, options in fieldsets
        ]
        return [*cleaned, (_("Tokens"), {"fields": [name]})]

    def get_actions(self, request: HttpRequest, *args: Any, **kwargs: Any) -> dict[str, Any]:
        # Added here rather than through ``actions``, which the project's
        # admin may set to its own list.
        actions = super().get_actions(request, *args, **kwargs)
        if (
            self.actions is None
            or IS_POPUP_VAR in request.GET
            or not self.has_tokenkit_revoke_permission(request)
        ):
            return actions
        action = self.get_action(
            TokenkitUserAdminMixin.tokenkit_revoke_all_sessions, *args, **kwargs
        )
        if action is not None:
            actions["tokenkit_revoke_all_sessions"] = action
        return actions

    def _api_tokens_url(self) -> str | None:
        # Like the other links, shown where the page is registered; the page
        # itself checks the permission to see it.
        return admin_url(self.admin_site, "tokenkit_apitoken_changelist")

    @admin.display(description=_("tokens"))
    def tokenkit_sessions_link(self, obj: Any) -> SafeString | str:
        links = []
        sessions = admin_url(self.admin_site, "tokenkit_session_changelist")
        if sessions is not None:
            links.append((sessions, _("Sessions")))
        api_tokens = self._api_tokens_url()
        if api_tokens is not None:
            links.append((api_tokens, _("API tokens")))
        if not links:
            return "-"
        return format_html_join(
            mark_safe(" &middot; "),
            '<a href="{}?{}={}">{}</a>',
            ((url, USER_PARAMETER, obj.pk, label) for url, label in links),
        )

    @admin.display(description=_("tokens"))
    def tokenkit_sessions_summary(self, obj: Any) -> SafeString | str:
        active = Session.objects.filter(user=obj).active().count()
        text = ngettext("%(count)d active session", "%(count)d active sessions", active) % {
            "count": active
        }
        api_tokens = self._api_tokens_url()
        if api_tokens is not None:
            active_api = APIToken.objects.filter(user=obj).active().count()
            text += ", " + ngettext(
                "%(count)d active API token", "%(count)d active API tokens", active_api
            ) % {"count": active_api}
        query = f"{USER_PARAMETER}={obj.pk}"
        links = [
            (admin_url(self.admin_site, "tokenkit_session_changelist"), _("all sessions")),
            (api_tokens, _("API tokens")),
            (
                admin_url(self.admin_site, "tokenkit_blacklistedtoken_changelist"),
                _("revoked tokens"),
            ),
        ]
        shown = [(url, label) for url, label in links if url is not None]
        if not shown:
            return text
        return format_html(
            "{} &middot; {}",
            text,
            format_html_join(
                mark_safe(" &middot; "),
                '<a href="{}?{}">{}</a>',
                ((url, query, label) for url, label in shown),
            ),
        )


class TokenkitUserAdmin(TokenkitUserAdminMixin, _StockUserAdmin):
    """Django's ``UserAdmin`` with :class:`TokenkitUserAdminMixin`."""


def extend_user_admin(site: admin.AdminSite | None = None) -> None:
    """Opt in: swap Django's stock ``UserAdmin`` on ``site`` for :class:`TokenkitUserAdmin`.

    Call it once from your project's ``admin.py``; ``site`` defaults to
    ``django.contrib.admin.site``. Calling it again does nothing. It raises
    ``ImproperlyConfigured`` when the user model's admin on ``site`` is not
    the stock ``UserAdmin`` (a custom user model, or a project's own user
    admin): put :class:`TokenkitUserAdminMixin` in that admin's bases instead.
    """
    if site is None:
        site = admin.site
    if site is admin.site:
        # Registers the stock UserAdmin on admin.site, so the call works
        # whichever of the project's apps and django.contrib.auth comes first
        # in INSTALLED_APPS (autodiscover imports the admin modules in order).
        import django.contrib.auth.admin  # noqa: F401
    user_model = get_user_model()
    current = site._registry.get(user_model)
    if isinstance(current, TokenkitUserAdminMixin):
        return
    if current is None or type(current) is not UserAdmin:
        raise ImproperlyConfigured(
            f"extend_user_admin() replaces Django's stock UserAdmin, but {user_model.__name__} "
            f"is registered on the admin site {site.name!r} with "
            f"{'no admin' if current is None else type(current).__name__}. Add "
            "django_tokenkit.admin.users.TokenkitUserAdminMixin to the bases of your user "
            "admin instead."
        )
    site.unregister(user_model)
    site.register(user_model, TokenkitUserAdmin)
