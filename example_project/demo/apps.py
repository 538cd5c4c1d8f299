from __future__ import annotations

from django.apps import AppConfig


class DemoConfig(AppConfig):
    """Holds the example project's demo-only management commands and its admin opt-in."""

    name = "demo"
