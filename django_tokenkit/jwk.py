"""A public key as a JWK and back: its members (RFC 7518 section 6) and thumbprint (RFC 7638).

Only the encoding lives here, for the three key types tokenkit signs with
(RSA, EC on P-256, OKP with Ed25519): :mod:`django_tokenkit.keys` decides
which algorithm a key is for and whether a published JWK may be trusted,
and uses :func:`thumbprint` as a key's default ``kid``. Nothing here ever
reads or writes a private member.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

PublicKey = Any  # rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey

#: The members RFC 7638 section 3.2 hashes, per key type.
_THUMBPRINT_MEMBERS = {
    "RSA": ("e", "kty", "n"),
    "EC": ("crv", "kty", "x", "y"),
    "OKP": ("crv", "kty", "x"),
}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64_uint(value: int) -> str:
    return _b64(value.to_bytes(max((value.bit_length() + 7) // 8, 1), "big"))


def _unb64(value: object) -> bytes:
    if not isinstance(value, str):
        raise ValueError("JWK member is not a string")
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def _uint(value: object) -> int:
    return int.from_bytes(_unb64(value), "big")


def public_members(public: PublicKey) -> dict[str, str]:
    """The RFC 7518 section 6 public members of ``public``, ``kty`` included."""
    if isinstance(public, rsa.RSAPublicKey):
        numbers = public.public_numbers()
        return {"kty": "RSA", "n": _b64_uint(numbers.n), "e": _b64_uint(numbers.e)}
    if isinstance(public, ec.EllipticCurvePublicKey):
        point = public.public_numbers()
        return {
            "kty": "EC",
            "crv": "P-256",
            "x": _b64(point.x.to_bytes(32, "big")),
            "y": _b64(point.y.to_bytes(32, "big")),
        }
    raw = public.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return {"kty": "OKP", "crv": "Ed25519", "x": _b64(raw)}


def public_key(jwk: Mapping[str, Any]) -> PublicKey:
    """The public key a JWK's members describe, by its ``kty``.

    Raises ``ValueError`` for another key type or curve, or members that
    are not base64url text.
    """
    kty = jwk.get("kty")
    if kty == "RSA":
        return rsa.RSAPublicNumbers(_uint(jwk.get("e")), _uint(jwk.get("n"))).public_key()
    if kty == "EC":
        if jwk.get("crv") != "P-256":
            raise ValueError("ES256 needs a P-256 key")
        point = ec.EllipticCurvePublicNumbers(
            _uint(jwk.get("x")), _uint(jwk.get("y")), ec.SECP256R1()
        )
        return point.public_key()
    if kty == "OKP":
        if jwk.get("crv") != "Ed25519":
            raise ValueError("EdDSA needs an Ed25519 key")
        return ed25519.Ed25519PublicKey.from_public_bytes(_unb64(jwk.get("x")))
    raise ValueError(f"unsupported key type {kty!r}")


def thumbprint(public: PublicKey) -> str:
    """The RFC 7638 JWK thumbprint (SHA-256, base64url) of ``public``: its default ``kid``."""
    members = public_members(public)
    required = {name: members[name] for name in _THUMBPRINT_MEMBERS[members["kty"]]}
    canonical = json.dumps(required, sort_keys=True, separators=(",", ":"))
    return _b64(hashlib.sha256(canonical.encode()).digest())
