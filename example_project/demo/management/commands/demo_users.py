"""``manage.py demo_users``: create (or reset) the demo's two accounts."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django.urls import Resolver404, resolve

#: (username, password, is_superuser). Fixed on purpose: the demo prints them
#: and the README quotes them, so anyone can log in right after `make demo`.
DEMO_ACCOUNTS: tuple[tuple[str, str, bool], ...] = (
    ("demo", "demo-password", False),
    ("admin", "admin-password", True),
)


#: The browsable API documentation, served once the drf-spectacular integration is in.
API_DOCS = "/api/docs/"


def _serves(path: str) -> bool:
    """Whether the project's URLconf answers ``path``: print only URLs that work."""
    try:
        resolve(path)
    except Resolver404:
        return False
    return True


class Command(BaseCommand):
    help = (
        "Create the demo user (demo / demo-password) and the superuser "
        "(admin / admin-password), or reset their passwords and flags if they "
        "exist, then print the credentials and the URLs to try. Resetting a "
        "password ends that user's token sessions when the package revokes "
        "on password change (its default)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--base-url",
            default="http://127.0.0.1:8000",
            help="Where the demo server listens, for the printed URLs.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        user_model = get_user_model()
        username_field = user_model.USERNAME_FIELD
        with transaction.atomic():
            for username, password, is_superuser in DEMO_ACCOUNTS:
                # Idempotent so `make demo` can run it on every start: a
                # password changed by hand during a demo is put back.
                user, created = user_model._default_manager.get_or_create(
                    **{username_field: username}
                )
                user.set_password(password)
                user.is_active = True
                user.is_staff = is_superuser
                user.is_superuser = is_superuser
                user.save()
                verb = "Created" if created else "Reset"
                self.stdout.write(f"{verb} {'superuser' if is_superuser else 'user'} {username}.")

        base = options["base_url"].rstrip("/")
        lines = [
            "",
            "Demo credentials:",
            *(
                f"  {'admin user' if is_superuser else 'demo user '}  {username} / {password}"
                for username, password, is_superuser in DEMO_ACCOUNTS
            ),
            "",
            "Try it:",
            f"  Single-page demo  {base}/  (log in as the demo user)",
            *([f"  API docs          {base}{API_DOCS}"] if _serves(API_DOCS) else []),
            f"  Admin             {base}/admin/  (log in as the admin user)",
            f"  Log in by hand    POST {base}/api/auth/token/",
            "",
        ]
        self.stdout.write(self.style.SUCCESS("\n".join(lines)))
