"""The key pairs of the asymmetric contenders, shared by every process of a run.

Pure files, no Django: the runner calls :func:`ensure_keys` before anything
starts, and each process (the runner, every gunicorn worker) reads the same
PEM files, so a token minted by the runner verifies in every server.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

#: The asymmetric algorithms measured beside HS256.
ASYMMETRIC = ("RS256", "ES256", "EdDSA")


def key_dir() -> Path:
    return Path(os.environ.get("BENCH_KEY_DIR") or Path(tempfile.gettempdir()) / "tokenkit-bench")


def private_path(algorithm: str) -> Path:
    return key_dir() / f"{algorithm.lower()}.pem"


def public_path(algorithm: str) -> Path:
    return key_dir() / f"{algorithm.lower()}.pub.pem"


def ensure_keys() -> None:
    """Write a key pair per algorithm (mode 0600) unless the files exist."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    key_dir().mkdir(mode=0o700, parents=True, exist_ok=True)
    for algorithm in ASYMMETRIC:
        if private_path(algorithm).exists() and public_path(algorithm).exists():
            continue
        if algorithm == "RS256":
            # 2048 bits: the size simplejwt users typically configure.
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        elif algorithm == "ES256":
            key = ec.generate_private_key(ec.SECP256R1())
        else:
            key = ed25519.Ed25519PrivateKey.generate()
        private = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        public = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        for path, data in ((private_path(algorithm), private), (public_path(algorithm), public)):
            scratch = path.with_suffix(".tmp")
            scratch.write_bytes(data)
            scratch.chmod(0o600)
            os.replace(scratch, path)
