from __future__ import annotations

from django.apps import AppConfig
from django.core import checks
from django.utils.translation import gettext_lazy as _


class TokenkitConfig(AppConfig):
    name = "django_tokenkit"
    verbose_name = _("Tokens")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django_tokenkit import checks as tokenkit_checks

        checks.register(tokenkit_checks.check_settings)
        checks.register(tokenkit_checks.check_keys, checks.Tags.security)
        checks.register(tokenkit_checks.check_cache, checks.Tags.caches)
        checks.register(tokenkit_checks.check_refresh_cookie, checks.Tags.security)
        checks.register(tokenkit_checks.check_cors_expose_headers)
