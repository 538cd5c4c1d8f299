"""``manage.py tokenkit_generate_key``: print a new random HMAC signing key."""

from __future__ import annotations

import json
import secrets
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

#: Bytes of randomness: enough for HS512 (RFC 7518 section 3.2 asks for at
#: least the hash's output size, 64 bytes), and so for HS256 and HS384 too.
KEY_BYTES = 64


class Command(BaseCommand):
    help = (
        "Print a new random HMAC key (64 random bytes, URL-safe base64) for "
        "TOKENKIT['SIGNING_KEYS'], usable with HS256, HS384 and HS512. To rotate, put it "
        "first in the list and remove the old key once the longest-lived token it signed "
        "has expired. Nothing is stored: the key exists only in this command's output. "
        "Asymmetric key pairs (RS256, ES256, EdDSA) arrive in a later release."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--kid",
            help='Print a ready-to-paste SIGNING_KEYS entry {"kid": KID, "key": ...} '
            "instead of the bare key.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        kid: str | None = options["kid"]
        if kid is not None and not kid.strip():
            raise CommandError("--kid must not be empty.")
        key = secrets.token_urlsafe(KEY_BYTES)
        # json.dumps quotes and escapes any kid the way a Python literal needs.
        self.stdout.write(key if kid is None else json.dumps({"kid": kid, "key": key}))
