"""Optional integrations, each loaded only when the package it extends is installed."""

from __future__ import annotations

import importlib
import importlib.util

#: Integration module -> the distribution's import name it needs.
INTEGRATIONS = {"django_tokenkit.contrib.spectacular": "drf_spectacular"}


def load() -> list[str]:
    """Import each integration whose package is installed; return those imported.

    Called from :meth:`~django_tokenkit.apps.TokenkitConfig.ready`, once the
    app registry is ready, so no integration is imported by a project that
    lacks its package (drf-spectacular is an optional dependency).
    """
    loaded = []
    for module, needs in INTEGRATIONS.items():
        try:
            available = importlib.util.find_spec(needs) is not None
        except (ImportError, ValueError):  # a None entry in sys.modules, a broken package
            available = False
        if available:
            importlib.import_module(module)
            loaded.append(module)
    return loaded
