"""Tell a django-tokenkit API token from a random string of the same shape, offline."""

import re
import zlib

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
PATTERN = re.compile(r"\btkp_[0-9A-Za-z]{49}\b")


def checksum(body: str) -> str:
    value, digits = zlib.crc32(("tkp_" + body).encode("ascii")), ""
    while value:
        value, digit = divmod(value, 62)
        digits = ALPHABET[digit] + digits
    return digits.rjust(6, "0")


def find_tokens(text: str) -> list[str]:
    """Every string in ``text`` that is a well-formed tokenkit API token."""
    found = (match.group() for match in PATTERN.finditer(text))
    return [token for token in found if checksum(token[4:47]) == token[47:]]
