"""``manage.py tokenkit_generate_key``: a new HMAC key, or a PEM key pair written to files."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_tokenkit import keys
from django_tokenkit.jwk import thumbprint

#: Bytes of randomness: enough for HS512 (RFC 7518 section 3.2 asks for at
#: least the hash's output size, 64 bytes), and so for HS256 and HS384 too.
KEY_BYTES = 64
#: RS256 keys are generated at this size: above the 2048-bit floor, the
#: size NIST SP 800-57 gives for use beyond 2030.
RSA_BITS = 3072
#: Owner read/write only: a private key must not be readable by other users.
FILE_MODE = 0o600


def generate(algorithm: keys.Algorithm) -> keys.PrivateKey:
    """A new private key for ``algorithm`` (RS256, ES256 or EdDSA)."""
    if algorithm.family == keys.RSA:
        return rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
    if algorithm.family == keys.EC:
        return ec.generate_private_key(ec.SECP256R1())
    return ed25519.Ed25519PrivateKey.generate()


def write_new_file(path: Path, data: bytes) -> None:
    """Create ``path`` with mode 0600 and write ``data``; never replace an existing file.

    ``O_EXCL`` and the mode given to ``open`` itself: there is no moment in
    which the file exists with wider permissions, and no way to clobber a
    key already in use.
    """
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)


class Command(BaseCommand):
    help = (
        "Generate a signing key for TOKENKIT['SIGNING_KEYS']. With an HMAC algorithm "
        "(default HS256) print 64 random bytes, URL-safe base64, usable with HS256, HS384 "
        "and HS512. With RS256, ES256 or EdDSA write a PEM key pair (private and public, "
        "mode 0600, never overwriting a file) and print the SIGNING_KEYS entry naming it; "
        "the kid is the key's RFC 7638 thumbprint unless --kid gives one."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--algorithm",
            default="HS256",
            choices=sorted(keys.SUPPORTED_ALGORITHMS),
            help="The algorithm the key is for (default HS256).",
        )
        parser.add_argument(
            "--kid",
            help='Print a ready-to-paste SIGNING_KEYS entry {"kid": KID, "key": ...} '
            "instead of the bare key (HMAC), or use KID instead of the thumbprint (PEM).",
        )
        parser.add_argument(
            "--out",
            default=".",
            help="Directory for the PEM files of an asymmetric key (default: the current "
            "one). They are named <kid>.pem (private) and <kid>.pub.pem (public).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        kid: str | None = options["kid"]
        if kid is not None and not kid.strip():
            raise CommandError("--kid must not be empty.")
        algorithm = keys.ALGORITHMS[options["algorithm"]]
        if not algorithm.asymmetric:
            key = secrets.token_urlsafe(KEY_BYTES)
            # json.dumps quotes and escapes any kid the way a Python literal needs.
            self.stdout.write(key if kid is None else json.dumps({"kid": kid, "key": key}))
            return
        self._write_pair(algorithm, kid, Path(options["out"]))

    def _write_pair(self, algorithm: keys.Algorithm, kid: str | None, out: Path) -> None:
        if not out.is_dir():
            raise CommandError(f"--out {out} is not a directory.")
        private = generate(algorithm)
        kid = kid or thumbprint(private.public_key())
        if "/" in kid or kid.startswith("."):
            raise CommandError("--kid must not contain '/' or start with '.': it names the files.")
        private_path = (out / f"{kid}.pem").resolve()
        public_path = (out / f"{kid}.pub.pem").resolve()
        private_pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        public_pem = private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        try:
            write_new_file(private_path, private_pem)
            try:
                write_new_file(public_path, public_pem)
            except OSError:
                private_path.unlink()
                raise
        except FileExistsError as error:
            raise CommandError(
                f"{error.filename} exists; tokenkit never overwrites a key."
            ) from None
        except OSError as error:
            raise CommandError(f"Could not write {error.filename}: {error.strerror}.") from None
        entry = {"kid": kid, "key": str(private_path), "algorithm": algorithm.name}
        self.stderr.write(
            f"Wrote {private_path} (private: keep it secret) and {public_path} (public)."
        )
        self.stdout.write(json.dumps(entry))
