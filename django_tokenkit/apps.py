from __future__ import annotations

from django.apps import AppConfig
from django.core import checks
from django.utils.translation import gettext_lazy as _


class TokenkitConfig(AppConfig):
    name = "django_tokenkit"
    #: Short and explicit: the tables are ``tokenkit_*``, the admin lives at
    #: ``/admin/tokenkit/`` and permissions are ``tokenkit.<codename>``.
    label = "tokenkit"
    verbose_name = _("Tokens")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.contrib.auth import get_user_model
        from django.db.models import signals

        from django_tokenkit import checks as tokenkit_checks
        from django_tokenkit import contrib, receivers

        user_model = get_user_model()
        uid = "django_tokenkit"
        signals.pre_save.connect(
            receivers.remember_credential_changes, sender=user_model, dispatch_uid=uid
        )
        signals.post_save.connect(
            receivers.revoke_after_credential_change, sender=user_model, dispatch_uid=uid
        )
        signals.post_delete.connect(
            receivers.forget_deleted_user, sender=user_model, dispatch_uid=uid
        )

        checks.register(tokenkit_checks.check_settings)
        checks.register(tokenkit_checks.check_keys, checks.Tags.security)
        checks.register(tokenkit_checks.check_cache, checks.Tags.caches)
        checks.register(tokenkit_checks.check_refresh_cookie, checks.Tags.security)
        checks.register(tokenkit_checks.check_cors_expose_headers)
        checks.register(tokenkit_checks.check_rest_framework)
        checks.register(tokenkit_checks.check_custom_claims)
        checks.register(tokenkit_checks.check_simplejwt_transition, checks.Tags.security)
        checks.register(
            tokenkit_checks.check_deploy_signing_keys, checks.Tags.security, deploy=True
        )
        # drf-spectacular's extensions, when it is installed (an optional dependency).
        contrib.load()
