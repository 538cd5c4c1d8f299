"""The demo's admin: it opts in to tokenkit's User admin, as a project's own admin.py does.

With it, the User admin links each user to their sessions and offers
"Revoke all sessions of selected users". Without this call the stock
``UserAdmin`` is left as Django registers it.
"""

from __future__ import annotations

from django.contrib import admin

from django_tokenkit.admin.users import extend_user_admin

extend_user_admin(admin.site)
