"""Sphinx configuration for the django-tokenkit documentation.

Built with ``make docs`` (``sphinx-build -W``): every warning is an error.
Besides the usual settings, this file keeps the settings reference honest: the
build warns, and so fails, when ``settings.rst`` misses a key of
``django_tokenkit.conf.DEFAULTS`` or a check id of
``django_tokenkit.check_ids.REGISTRY``. Both are imported from the installed
package (importing them needs Django installed, not configured), never read
from the source text.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sphinx.util import logging

import django_tokenkit
from django_tokenkit.check_ids import REGISTRY
from django_tokenkit.conf import DEFAULTS

DOCS = Path(__file__).resolve().parent

project = "django-tokenkit"
author = "django-tokenkit developers"
copyright = "django-tokenkit developers"
release = django_tokenkit.__version__
version = ".".join(release.split(".")[:2])

extensions: list[str] = []
exclude_patterns = ["_build"]
root_doc = "index"
highlight_language = "python"
html_theme = "alabaster"
html_theme_options = {
    "description": "JWT authentication for Django REST framework",
    "fixed_sidebar": True,
}
html_title = f"django-tokenkit {release}"

logger = logging.getLogger(__name__)


def check_settings_reference(app: Any) -> None:
    """Warn where the reference and the code disagree on settings or check ids."""
    text = (DOCS / "settings.rst").read_text()
    documented = set(re.findall(r"^``([A-Z_]+)``\n[-~^]+$", text, flags=re.MULTILINE))
    for name in DEFAULTS:
        if name not in documented:
            logger.warning("settings.rst has no section for TOKENKIT[%r]", name)
    for name in sorted(documented - set(DEFAULTS)):
        logger.warning("settings.rst documents %r, which is not in conf.DEFAULTS", name)
    defined = set(REGISTRY)
    described = set(re.findall(r"tokenkit\.[EW]\d{3}", text))
    for check_id in sorted(defined - described):
        logger.warning("settings.rst does not describe the system check %s", check_id)
    for check_id in sorted(described - defined):
        logger.warning(
            "settings.rst describes %s, which check_ids.REGISTRY does not hold", check_id
        )


def setup(app: Any) -> dict[str, Any]:
    app.connect("builder-inited", check_settings_reference)
    return {"parallel_read_safe": True}
