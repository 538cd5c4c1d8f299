"""A second admin site that opts in to tokenkit's User admin, as a project's admin.py does.

The default site (``/admin/``) is left as a project that did not opt in has
it: Django's stock ``UserAdmin``. This one (``/opted-in-admin/``) has the
stock user admin, tokenkit's pages and the opt-in call.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

from django_tokenkit.admin import (
    APITokenAdmin,
    BlacklistedTokenAdmin,
    IssuedTokenAdmin,
    SessionAdmin,
)
from django_tokenkit.admin.users import extend_user_admin
from django_tokenkit.models import APIToken, BlacklistedToken, IssuedToken, Session

opted_in_site = admin.AdminSite(name="opted_in")
opted_in_site.register(get_user_model(), UserAdmin)
opted_in_site.register(Session, SessionAdmin)
opted_in_site.register(IssuedToken, IssuedTokenAdmin)
opted_in_site.register(BlacklistedToken, BlacklistedTokenAdmin)
opted_in_site.register(APIToken, APITokenAdmin)
extend_user_admin(opted_in_site)
