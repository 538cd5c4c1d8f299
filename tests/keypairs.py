"""PEM key pairs for the tests, generated once per test run (RSA generation is slow).

Also the ``TOKENKIT`` settings that sign with each algorithm, so a test can be
parametrized over HS256, RS256, ES256 and EdDSA alike.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

#: Every algorithm a token can be signed with, for parametrized tests.
ALGORITHMS = ["HS256", "RS256", "ES256", "EdDSA"]
HMAC_KEY = "h" * 64


@cache
def private_key(kind: str) -> Any:
    """A private key: ``RS256``, ``ES256``, ``EdDSA``, or an odd one (``RSA1024``,
    ``P384``, ``Ed448``), the same object for the whole run. ``kind`` may carry a
    suffix (``ES256-next``) for a second key of the same type."""
    base = kind.split("-")[0]
    if base == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if base == "RSA1024":
        return rsa.generate_private_key(public_exponent=65537, key_size=1024)
    if base == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    if base == "P384":
        return ec.generate_private_key(ec.SECP384R1())
    if base == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    if base == "Ed448":
        return ed448.Ed448PrivateKey.generate()
    raise ValueError(kind)


def private_pem(kind: str) -> str:
    return str(
        private_key(kind)
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )


def public_pem(kind: str) -> str:
    return str(
        private_key(kind)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def signing_settings(algorithm: str, **extra: Any) -> dict[str, Any]:
    """``TOKENKIT`` keys that sign with ``algorithm`` (one key, inline PEM for asymmetric)."""
    key = HMAC_KEY if algorithm == "HS256" else private_pem(algorithm)
    return {"ALGORITHM": algorithm, "SIGNING_KEYS": [key], **extra}


#: Algorithms whose signatures are a function of key and message alone (RFC 8017
#: PKCS#1 v1.5, RFC 8032 Ed25519, HMAC); ECDSA draws a random nonce per signature.
DETERMINISTIC = {"HS256", "RS256", "EdDSA"}


def token_parts(raw: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The header and claims of ``raw``, unverified: what a replay must reproduce."""
    import jwt

    return jwt.get_unverified_header(raw), jwt.decode(raw, options={"verify_signature": False})


def assert_same_token(algorithm: str, first: str, second: str) -> None:
    """The replay guarantee of docs/keys.rst: the same header and claims (so the same
    ``jti``), and for a deterministic algorithm the same bytes."""
    assert token_parts(first) == token_parts(second)
    if algorithm in DETERMINISTIC:
        assert first == second
