"""tokenkit in the User admin: an explicit opt-in, the links and the action.

The test project's default site (``/admin/``) did not opt in; the site at
``/opted-in-admin/`` (``tests/testapp/admin.py``) did, as a project's own
``admin.py`` would.
"""

from __future__ import annotations

import sys
from typing import Any

import pytest
from django.contrib import admin as django_admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.test import Client, RequestFactory
from rest_framework.test import APIClient

from django_tokenkit.admin.users import (
    TokenkitUserAdmin,
    TokenkitUserAdminMixin,
    extend_user_admin,
)
from django_tokenkit.models import Session
from tests.admin.helpers import USERS_URL, action_post, make_sessions, whoami
from tests.helpers import assert_unauthorized, login
from tests.testapp.admin import opted_in_site

OPTED_IN = "/opted-in-admin/"
OPTED_IN_USERS_URL = f"{OPTED_IN}auth/user/"
OPTED_IN_SESSIONS_URL = f"{OPTED_IN}tokenkit/session/"
OPTED_IN_BLACKLIST_URL = f"{OPTED_IN}tokenkit/blacklistedtoken/"


# --- without the opt-in -------------------------------------------------------------


def test_user_admin_without_opt_in_stays_the_stock_class() -> None:
    # The admin autodiscovery imported tokenkit's admin, and that alone changes nothing.
    assert "django_tokenkit.admin" in sys.modules
    assert type(django_admin.site._registry[get_user_model()]) is UserAdmin


def test_user_admin_without_opt_in_has_no_tokenkit_column_section_or_action(
    admin_client: Client, user: Any
) -> None:
    make_sessions(1, [user])
    changelist = admin_client.get(USERS_URL)
    assert "tokenkit_revoke_all_sessions" not in changelist.content.decode()
    assert "tokenkit_sessions_link" not in changelist.context["cl"].list_display
    page = admin_client.get(f"{USERS_URL}{user.pk}/change/").content.decode()
    assert "active session" not in page


# --- with the opt-in ----------------------------------------------------------------


def test_extend_user_admin_registers_the_tokenkit_user_admin() -> None:
    registered = opted_in_site._registry[get_user_model()]
    assert isinstance(registered, TokenkitUserAdmin)
    assert isinstance(registered, UserAdmin)


def test_user_changelist_links_each_user_to_their_sessions(admin_client: Client, user: Any) -> None:
    html = admin_client.get(OPTED_IN_USERS_URL).content.decode()
    assert f'href="{OPTED_IN_SESSIONS_URL}?user={user.pk}"' in html


def test_user_change_page_counts_active_sessions_and_links_them(
    admin_client: Client, user: Any
) -> None:
    make_sessions(2, [user])
    html = admin_client.get(f"{OPTED_IN_USERS_URL}{user.pk}/change/").content.decode()
    assert "2 active sessions" in html
    assert f'href="{OPTED_IN_SESSIONS_URL}?user={user.pk}"' in html
    assert f'href="{OPTED_IN_BLACKLIST_URL}?user={user.pk}"' in html


def test_user_admin_revoke_all_sessions_action_confirms_then_revokes(
    admin_client: Client,
    user: Any,
    other_user: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    pair = login(APIClient())
    bob = login(APIClient(), username="bob")
    url = OPTED_IN_USERS_URL
    confirm = action_post(admin_client, url, "tokenkit_revoke_all_sessions", [user.pk])
    assert confirm.status_code == 200
    assert "Revoke all tokens of these users?" in confirm.content.decode()
    assert whoami(pair).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = action_post(
            admin_client, url, "tokenkit_revoke_all_sessions", [user.pk], post="yes"
        )
    assert response.status_code == 302
    assert_unauthorized(whoami(pair), "token_revoked")
    assert whoami(bob).status_code == 200


def test_user_admin_revoke_action_hidden_without_session_change_permission(
    staff_viewer: Any,
) -> None:
    request = RequestFactory().get(OPTED_IN_USERS_URL)
    request.user = staff_viewer
    model_admin = opted_in_site._registry[get_user_model()]
    assert "tokenkit_revoke_all_sessions" not in model_admin.get_actions(request)
    assert "tokenkit_sessions_link" in model_admin.get_list_display(request)


def test_user_admin_revoke_action_run_without_session_change_permission_is_403(
    staff_viewer: Any, user: Any
) -> None:
    make_sessions(1, [user])
    request = RequestFactory().post(OPTED_IN_USERS_URL, {"post": "yes"})
    request.user = staff_viewer
    model_admin = opted_in_site._registry[get_user_model()]
    assert isinstance(model_admin, TokenkitUserAdminMixin)
    users = get_user_model().objects.filter(pk=user.pk)
    with pytest.raises(PermissionDenied):
        model_admin.tokenkit_revoke_all_sessions(request, users)
    assert Session.objects.filter(user=user, revoked_at__isnull=True).exists()


def test_user_admin_mixin_works_on_a_custom_user_admin(admin_user: Any) -> None:
    # ModelAdmin is generic only in django-stubs: at run time it cannot be subscripted.
    class CustomUserAdmin(TokenkitUserAdminMixin, django_admin.ModelAdmin):  # type: ignore[type-arg]
        list_display = ("username", "email")

    site = django_admin.AdminSite(name="custom")
    site.register(get_user_model(), CustomUserAdmin)
    extend_user_admin(site)  # already has the mixin: nothing to do
    model_admin = site._registry[get_user_model()]
    assert type(model_admin) is CustomUserAdmin
    request = RequestFactory().get("/")
    request.user = admin_user
    assert "tokenkit_revoke_all_sessions" in model_admin.get_actions(request)
    assert list(model_admin.get_list_display(request))[-1] == "tokenkit_sessions_link"
    fieldsets = model_admin.get_fieldsets(request, admin_user)
    assert fieldsets[-1][1]["fields"] == ["tokenkit_sessions_summary"]
    assert all(
        "tokenkit_sessions_summary" not in options["fields"] for _, options in fieldsets[:-1]
    )


def test_extend_user_admin_replaces_the_stock_class_once(db: Any) -> None:
    site = django_admin.AdminSite(name="stock")
    site.register(get_user_model(), UserAdmin)
    extend_user_admin(site)
    assert type(site._registry[get_user_model()]) is TokenkitUserAdmin
    extend_user_admin(site)
    assert type(site._registry[get_user_model()]) is TokenkitUserAdmin


@pytest.mark.parametrize("registered", [None, django_admin.ModelAdmin])
def test_extend_user_admin_without_the_stock_class_raises_naming_the_mixin(
    registered: Any,
) -> None:
    site = django_admin.AdminSite(name="custom")
    if registered is not None:
        site.register(get_user_model(), registered)
    with pytest.raises(ImproperlyConfigured, match="TokenkitUserAdminMixin"):
        extend_user_admin(site)
    current = site._registry.get(get_user_model())
    assert (current is None) if registered is None else (type(current) is registered)
