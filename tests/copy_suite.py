"""Copy the test suite where the checkout's django_tokenkit/ cannot shadow the wheel.

tox runs ``python tests/copy_suite.py SRC DST`` before pytest, then pytest
in DST: ``tests/``, ``example_project/``, ``benchmarks/`` and ``docs/`` (some
tests check the benchmark report's arithmetic and the docs' example code) and
``pyproject.toml`` (pytest's settings) are there, the package is not, so
every import of ``django_tokenkit`` reaches the installed wheel.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

COPIED_TREES = ("tests", "example_project", "benchmarks", "docs")


def copy_suite(src: Path, dst: Path) -> None:
    """Replace DST's copies of the suite with fresh ones from SRC."""
    dst.mkdir(parents=True, exist_ok=True)
    for name in COPIED_TREES:
        shutil.rmtree(dst / name, ignore_errors=True)
        shutil.copytree(
            src / name,
            dst / name,
            ignore=shutil.ignore_patterns("__pycache__", "*.sqlite3", "_build"),
        )
    shutil.copy(src / "pyproject.toml", dst / "pyproject.toml")


if __name__ == "__main__":
    copy_suite(Path(sys.argv[1]), Path(sys.argv[2]))
