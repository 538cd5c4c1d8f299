"""The API-token format of SPEC section 6, checked against the rule as written."""

from __future__ import annotations

import re
import subprocess
import sys
import zlib

import pytest

from django_tokenkit import api_token_format as fmt

SPEC_REGEX = re.compile(r"tkp_[0-9A-Za-z]{49}")
BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def spec_checksum(body: str) -> str:
    """The checksum as SPEC section 6 words it, computed independently."""
    value = zlib.crc32(f"tkp_{body}".encode("ascii"))
    out = ""
    while value:
        out = BASE62[value % 62] + out
        value //= 62
    return out.rjust(6, "0")


def test_generate_matches_the_published_regex_and_checksum() -> None:
    for _ in range(200):
        token = fmt.generate()
        assert SPEC_REGEX.fullmatch(token)
        assert len(token) == 53
        assert token[-6:] == spec_checksum(token[4:-6])
        assert fmt.is_well_formed(token)


def test_generate_draws_fresh_tokens() -> None:
    assert len({fmt.generate() for _ in range(1000)}) == 1000


def test_checksum_of_known_body_is_stable() -> None:
    body = "0" * 43
    assert fmt.checksum(body) == spec_checksum(body)
    assert len(fmt.checksum(body)) == 6


def test_checksum_pads_small_crc_values_with_zeros() -> None:
    # Find a body whose CRC is small enough to need padding: the rule says left-pad with 0.
    body = next(
        candidate
        for candidate in (f"{n:043d}" for n in range(200_000))
        if zlib.crc32(f"tkp_{candidate}".encode()) < 62**5
    )
    assert fmt.checksum(body).startswith("0")
    assert fmt.checksum(body) == spec_checksum(body)


@pytest.mark.parametrize(
    "candidate",
    [
        "",
        "tkp_",
        "tkp_" + "a" * 48,  # one short
        "tkp_" + "a" * 50,  # one long
        "tkx_" + "a" * 49,
        "TKP_" + "a" * 49,
        "tkp_" + "a" * 42 + "-" + "a" * 6,  # outside base62
        "tkp_" + "a" * 42 + "\x00" + "a" * 6,
        "tkp_" + "é" * 49,
    ],
)
def test_is_well_formed_wrong_shape_is_false(candidate: str) -> None:
    assert fmt.is_well_formed(candidate) is False


def test_is_well_formed_one_changed_character_is_false() -> None:
    token = fmt.generate()
    for index in range(4, 53):
        replacement = "0" if token[index] != "0" else "1"
        changed = token[:index] + replacement + token[index + 1 :]
        assert fmt.is_well_formed(changed) is False, index


def test_digest_is_sha256_hex_and_hint_is_prefix_plus_last_four() -> None:
    token = fmt.generate()
    assert re.fullmatch(r"[0-9a-f]{64}", fmt.digest(token))
    assert fmt.hint(token) == "tkp_" + token[-4:]
    assert token not in fmt.digest(token)


def test_format_module_imports_without_django() -> None:
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'django' or name.startswith('django.') or name == 'rest_framework':\n"
        "            raise ImportError('blocked: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "from django_tokenkit import api_token_format\n"
        "print(api_token_format.is_well_formed(api_token_format.generate()))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"
