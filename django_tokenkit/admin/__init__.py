"""Admin pages to inspect and revoke sessions and tokens (SPEC section 6, "Admin").

Laid out along Django's own admin:

- :mod:`~django_tokenkit.admin.options`: ``RevocationAdmin``, the base of
  every page (read-only rows, ids checked before any query, search, the
  detail page's revoke buttons);
- one module per page: :mod:`~django_tokenkit.admin.sessions`,
  :mod:`~django_tokenkit.admin.issued_tokens`,
  :mod:`~django_tokenkit.admin.blacklist`, :mod:`~django_tokenkit.admin.api_tokens`
  (with its forms in :mod:`~django_tokenkit.admin.api_token_forms`);
- :mod:`~django_tokenkit.admin.actions`: the revoke-action factory and the
  confirmation page;
- :mod:`~django_tokenkit.admin.filters`, :mod:`~django_tokenkit.admin.search`,
  :mod:`~django_tokenkit.admin.pagination`: what keeps a list fast at a
  million rows;
- :mod:`~django_tokenkit.admin.users`: the User admin, an explicit opt-in
  (:func:`~django_tokenkit.admin.users.extend_user_admin`).

This module only registers the pages on ``django.contrib.admin.site``.
"""

from __future__ import annotations

from django.contrib import admin

from django_tokenkit.admin.api_tokens import APITokenAdmin
from django_tokenkit.admin.blacklist import BlacklistedTokenAdmin
from django_tokenkit.admin.issued_tokens import IssuedTokenAdmin
from django_tokenkit.admin.sessions import SessionAdmin
from django_tokenkit.models import APIToken, BlacklistedToken, IssuedToken, Session

admin.site.register(Session, SessionAdmin)
admin.site.register(IssuedToken, IssuedTokenAdmin)
admin.site.register(BlacklistedToken, BlacklistedTokenAdmin)
admin.site.register(APIToken, APITokenAdmin)

__all__ = ["APITokenAdmin", "BlacklistedTokenAdmin", "IssuedTokenAdmin", "SessionAdmin"]
