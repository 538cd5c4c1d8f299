"""The API-token format: ``tkp_`` + 43 base62 characters + a 6-character checksum.

A public contract (SPEC section 6), so that secret scanners can find leaked
tokens and check them offline without asking the server:

- ``tkp_``, the prefix;
- 43 characters of base62 (``0-9A-Za-z``) drawn with :mod:`secrets`: 62**43
  is just over 2**256, so a body carries at least 256 random bits;
- 6 characters of checksum: the CRC-32 (``zlib.crc32``) of the ASCII string
  ``tkp_`` + body, written in base62 (most significant digit first) and
  left-padded with ``0``.

53 characters in all, matching :data:`PATTERN`. The checksum lets tokenkit
refuse a mistyped or made-up token before any cache or database access, and
lets a scanner tell a real token from a random string of the same shape.

This module imports nothing from Django, so the Python client can use it.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import zlib

PREFIX = "tkp_"
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
BODY_LENGTH = 43
CHECKSUM_LENGTH = 6
LENGTH = len(PREFIX) + BODY_LENGTH + CHECKSUM_LENGTH
#: What a secret scanner should look for (then check the checksum).
PATTERN = re.compile(r"tkp_[0-9A-Za-z]{49}")
#: Characters of the token shown in lists: the prefix and the last four.
HINT_LENGTH = 4


def checksum(body: str) -> str:
    """The six base62 characters that end a token whose body is ``body``."""
    value = zlib.crc32((PREFIX + body).encode("ascii"))
    digits = []
    while value:
        value, digit = divmod(value, len(ALPHABET))
        digits.append(ALPHABET[digit])
    return "".join(reversed(digits)).rjust(CHECKSUM_LENGTH, "0")


def generate() -> str:
    """A new token, at least 256 random bits from the operating system's CSPRNG."""
    body = "".join(secrets.choice(ALPHABET) for _ in range(BODY_LENGTH))
    return PREFIX + body + checksum(body)


def is_well_formed(candidate: str) -> bool:
    """True for a string of the token's shape whose checksum matches; no I/O.

    A string that fails this was never issued by tokenkit, so it can be
    refused before any lookup.
    """
    if len(candidate) != LENGTH or PATTERN.fullmatch(candidate) is None:
        return False
    body = candidate[len(PREFIX) : len(PREFIX) + BODY_LENGTH]
    return secrets.compare_digest(candidate[-CHECKSUM_LENGTH:], checksum(body))


def looks_like_api_token(candidate: str) -> bool:
    """True when ``candidate`` claims to be an API token (has the prefix)."""
    return candidate.startswith(PREFIX)


def digest(token: str) -> str:
    """The SHA-256 hex digest under which a token is stored and looked up.

    The token itself is never stored. Its 256 random bits make a plain hash
    enough: there is nothing to brute-force, so no salt or slow hash is
    needed, and a lookup stays one indexed equality.
    """
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def hint(token: str) -> str:
    """What lists show of a token: ``tkp_`` + its last four characters."""
    return PREFIX + token[-HINT_LENGTH:]
