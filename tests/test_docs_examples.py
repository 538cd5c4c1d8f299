"""The code the docs publish works: docs/examples/ agrees with the package."""

from __future__ import annotations

import runpy
from pathlib import Path
from typing import Any

import pytest

from django_tokenkit import api_token_format

EXAMPLES = Path(__file__).resolve().parent.parent / "docs" / "examples"


@pytest.fixture(scope="module")
def checker() -> dict[str, Any]:
    return runpy.run_path(str(EXAMPLES / "check_tokenkit_token.py"))


def test_docs_token_checker_finds_real_tokens_in_text(checker: dict[str, Any]) -> None:
    tokens = [api_token_format.generate() for _ in range(200)]
    text = "\n".join(f"export TOKEN={token} # leaked" for token in tokens)

    assert checker["find_tokens"](text) == tokens


@pytest.mark.parametrize(
    "mangle",
    [
        lambda token: token[:-1] + ("0" if token[-1] != "0" else "1"),  # wrong checksum
        lambda token: token[:10] + ("a" if token[10] != "a" else "b") + token[11:],  # typo
        lambda token: token + "x",  # longer: not a token
        lambda token: "xtkp_" + token[4:],  # part of a longer word
    ],
    ids=["checksum", "typo", "longer", "prefixed"],
)
def test_docs_token_checker_refuses_what_the_package_refuses(
    checker: dict[str, Any], mangle: Any
) -> None:
    candidate = mangle(api_token_format.generate())

    assert checker["find_tokens"](candidate) == []
    assert not api_token_format.is_well_formed(candidate)


def test_docs_token_checker_checksum_matches_the_package(checker: dict[str, Any]) -> None:
    for _ in range(200):
        body = api_token_format.generate()[4:47]
        assert checker["checksum"](body) == api_token_format.checksum(body)
