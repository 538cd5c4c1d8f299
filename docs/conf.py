"""Sphinx configuration for the django-tokenkit documentation.

Built with ``make docs`` (``sphinx-build -W``): every warning is an error.
Besides the usual settings, this file keeps the settings reference honest: the
build warns, and so fails, when ``settings.rst`` misses a key of
``django_tokenkit.conf.DEFAULTS`` or a check id that ``django_tokenkit/checks.py``
defines. Both are read from the source text, so the docs build without
importing Django.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

from sphinx.util import logging

DOCS = Path(__file__).resolve().parent
PACKAGE = DOCS.parent / "django_tokenkit"

project = "django-tokenkit"
author = "django-tokenkit developers"
copyright = "django-tokenkit developers"
release = ast.literal_eval(
    re.search(r"__version__\s*=\s*(.+)", (PACKAGE / "__init__.py").read_text()).group(1)
)
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


def default_setting_names() -> list[str]:
    """The keys of ``DEFAULTS`` in django_tokenkit/conf.py, read from its source."""
    tree = ast.parse((PACKAGE / "conf.py").read_text())
    for node in ast.walk(tree):
        target = getattr(node, "target", None) or next(iter(getattr(node, "targets", [])), None)
        value = getattr(node, "value", None)
        if isinstance(target, ast.Name) and target.id == "DEFAULTS" and isinstance(value, ast.Dict):
            return [key.value for key in value.keys if isinstance(key, ast.Constant)]
    return []


def check_ids() -> list[str]:
    """Every ``tokenkit.E/Wnnn`` id that django_tokenkit/checks.py mentions."""
    path = PACKAGE / "checks.py"
    if not path.exists():
        return []
    return sorted(set(re.findall(r"tokenkit\.[EW]\d{3}", path.read_text())))


def check_settings_reference(app: Any) -> None:
    """Warn where the reference and the code disagree on settings or check ids."""
    text = (DOCS / "settings.rst").read_text()
    documented = set(re.findall(r"^``([A-Z_]+)``\n[-~^]+$", text, flags=re.MULTILINE))
    for name in default_setting_names():
        if name not in documented:
            logger.warning("settings.rst has no section for TOKENKIT[%r]", name)
    for name in sorted(documented - set(default_setting_names())):
        logger.warning("settings.rst documents %r, which is not in conf.DEFAULTS", name)
    defined = check_ids()
    if not defined:  # checks.py not written yet: nothing to compare against
        return
    described = set(re.findall(r"tokenkit\.[EW]\d{3}", text))
    for check_id in sorted(set(defined) - described):
        logger.warning("settings.rst does not describe the system check %s", check_id)
    for check_id in sorted(described - set(defined)):
        logger.warning("settings.rst describes %s, which checks.py does not define", check_id)


def setup(app: Any) -> dict[str, Any]:
    app.connect("builder-inited", check_settings_reference)
    return {"parallel_read_safe": True}
