"""The test suite's own promises: tokenkit's warnings fail tests, and tox tests the wheel."""

from __future__ import annotations

import os
import sysconfig
import warnings
from pathlib import Path

import pytest

import django_tokenkit

CHECKOUT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("category", [UserWarning, RuntimeWarning, DeprecationWarning])
def test_filterwarnings_warning_from_tokenkit_is_an_error(category: type[Warning]) -> None:
    with pytest.raises(category, match="from tokenkit"):
        warnings.warn_explicit(
            "from tokenkit", category, "conf.py", 1, module="django_tokenkit.conf"
        )


def test_filterwarnings_warning_from_elsewhere_is_not_an_error() -> None:
    with pytest.warns(UserWarning, match="from elsewhere"):
        warnings.warn_explicit("from elsewhere", UserWarning, "other.py", 1, module="other")


def test_package_under_test_is_the_installed_one_when_tox_says_so() -> None:
    """tox sets TOKENKIT_TEST_INSTALLED=1 and runs a copy of tests/ against the wheel."""
    package = Path(django_tokenkit.__file__).resolve().parent
    if os.environ.get("TOKENKIT_TEST_INSTALLED") == "1":
        assert package.is_relative_to(Path(sysconfig.get_paths()["purelib"]).resolve())
        assert not package.is_relative_to(CHECKOUT)
    else:
        assert package == CHECKOUT / "django_tokenkit"
