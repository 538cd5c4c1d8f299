"""Small pieces every tokenkit admin page draws with: links, permissions, status badges."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth import get_permission_codename
from django.db import models
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from django_tokenkit.models import Session, TokenStatus

#: The query-string parameter of :class:`~django_tokenkit.admin.filters.UserFilter`.
USER_PARAMETER = "user"


def can_revoke(request: HttpRequest, model: type[models.Model] = Session) -> bool:
    """Whether the user may revoke: the change permission of ``model``."""
    opts = model._meta
    return request.user.has_perm(f"{opts.app_label}.{get_permission_codename('change', opts)}")


def can_view_sessions(request: HttpRequest) -> bool:
    """Whether the user may see the session pages (view or change permission)."""
    opts = Session._meta
    return any(
        request.user.has_perm(f"{opts.app_label}.{get_permission_codename(action, opts)}")
        for action in ("view", "change")
    )


def admin_url(site: admin.AdminSite, name: str, *args: Any) -> str | None:
    """The URL named ``name`` on ``site``, or None where that page is not registered."""
    try:
        return reverse(f"{site.name}:{name}", args=args)
    except NoReverseMatch:
        return None


def status_badge(status: str) -> SafeString:
    """A :class:`~django_tokenkit.models.TokenStatus` as the lists and pages show it."""
    return format_html(
        '<span class="tokenkit-status tokenkit-status-{}">{}</span>',
        status,
        TokenStatus(status).label,
    )


def user_link(user: Any, user_id: Any) -> SafeString | str:
    """``user``'s name, linking to the current list narrowed to that user's rows."""
    if user_id is None:
        return "-"
    return format_html(
        '<a href="?{}={}" title="{}">{}</a>',
        USER_PARAMETER,
        user_id,
        _("Only this user's rows"),
        user,
    )
