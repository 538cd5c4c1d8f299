from __future__ import annotations

from django.apps import AppConfig


class NotesConfig(AppConfig):
    """The notes app of the example project."""

    name = "notes"
    default_auto_field = "django.db.models.BigAutoField"
