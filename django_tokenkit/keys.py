"""What tokenkit knows about algorithms and keys: families, loading, validation, JWKs.

The JWK encoding of a public key itself (members, RFC 7638 thumbprints) is
:mod:`django_tokenkit.jwk`; what a published JWK may be used for is decided
here (:func:`key_from_jwk`).

One home for key knowledge. This module reads no settings:
:mod:`django_tokenkit.conf` turns ``TOKENKIT['SIGNING_KEYS']`` into loaded
:class:`Key` objects with :func:`load_keys` (once per process, again after
``setting_changed``), :mod:`django_tokenkit.checks` reports the
:class:`KeyProblem` objects :func:`inspect_keys` finds under their check ids,
and :mod:`django_tokenkit.tokens` (the only module that imports PyJWT) signs
with :func:`signing_key` and verifies with :func:`verification_keys`.

A PEM key is parsed here, once, into a ``cryptography`` key object that PyJWT
takes as it is: parsing an RSA key on every request was the slowness
simplejwt's users reported. The first configured key signs; every key
verifies, so an operator rotates by publishing the next key as verify-only,
then putting it first, then removing the old one (docs/keys.rst). Each key
carries its algorithm, fixed by configuration: a token's ``alg`` header only
ever selects among the configured keys, it never chooses how a key is used
(RFC 8725 section 3.1).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key, load_pem_public_key
from django.core.exceptions import ImproperlyConfigured

from django_tokenkit.jwk import PublicKey, public_key, public_members, thumbprint

#: The JOSE algorithm families (RFC 7518 section 3.1, RFC 8037 for OKP).
Family = Literal["HMAC", "RSA", "EC", "OKP"]
HMAC: Family = "HMAC"
RSA: Family = "RSA"
EC: Family = "EC"
OKP: Family = "OKP"

#: The smallest RSA modulus accepted, in bits (RFC 7518 section 3.3 asks for 2048).
MIN_RSA_BITS = 2048


@dataclass(frozen=True)
class Algorithm:
    """One supported JWS algorithm (RFC 7518 section 3.1, RFC 8037 section 3.1)."""

    name: str
    family: Family
    #: The shortest key accepted, in bytes: for HMAC the hash's output size
    #: (RFC 7518 section 3.2); for RSA the modulus (2048 bits).
    min_key_bytes: int

    @property
    def asymmetric(self) -> bool:
        """Whether a key pair signs and verifies (a public key can be published)."""
        return self.family != HMAC


#: Every algorithm tokenkit signs and verifies with, by its JOSE name. ``none``
#: is not, and never will be, among them.
ALGORITHMS: dict[str, Algorithm] = {
    algorithm.name: algorithm
    for algorithm in (
        Algorithm("HS256", HMAC, 32),
        Algorithm("HS384", HMAC, 48),
        Algorithm("HS512", HMAC, 64),
        Algorithm("RS256", RSA, MIN_RSA_BITS // 8),
        Algorithm("ES256", EC, 32),
        Algorithm("EdDSA", OKP, 32),
    )
}
SUPPORTED_ALGORITHMS = frozenset(ALGORITHMS)
HMAC_ALGORITHMS = frozenset(name for name, alg in ALGORITHMS.items() if alg.family == HMAC)
ASYMMETRIC_ALGORITHMS = frozenset(name for name, alg in ALGORITHMS.items() if alg.asymmetric)


def get_algorithm(name: object) -> Algorithm | None:
    """The :class:`Algorithm` called ``name``, or None when tokenkit does not support it."""
    return ALGORITHMS.get(name) if isinstance(name, str) else None


@dataclass(frozen=True)
class KeyEntry:
    """One configured key as written in settings: ``kid`` is None when none was given.

    ``key`` is an HMAC secret, or for an asymmetric algorithm a PEM text or
    the path of a PEM file. ``algorithm`` is None when the entry uses
    ``TOKENKIT['ALGORITHM']``.
    """

    kid: str | None
    key: str
    algorithm: str | None = None


def parse_key_entry(entry: object) -> KeyEntry:
    """Turn one item of ``SIGNING_KEYS`` into a :class:`KeyEntry`.

    Raises ``ImproperlyConfigured`` for anything but a string or a
    ``{"kid"?: str, "key": str, "algorithm"?: str}`` dict (an empty ``kid``
    means none).
    """
    if isinstance(entry, str):
        return KeyEntry(kid=None, key=entry)
    if isinstance(entry, dict) and set(entry) <= {"kid", "key", "algorithm"}:
        key = entry.get("key")
        kid = entry.get("kid")
        algorithm = entry.get("algorithm")
        if (
            isinstance(key, str)
            and (kid is None or isinstance(kid, str))
            and (algorithm is None or isinstance(algorithm, str))
        ):
            return KeyEntry(kid=kid or None, key=key, algorithm=algorithm)
    raise ImproperlyConfigured(
        "Each TOKENKIT['SIGNING_KEYS'] entry must be a string or "
        '{"kid": str, "key": str, "algorithm": str} (kid and algorithm optional).'
    )


def load_key_entries(value: object, default_key: str) -> list[KeyEntry]:
    """The keys a ``SIGNING_KEYS`` value configures, first one signing.

    ``None`` means ``default_key`` alone (the caller passes ``SECRET_KEY``).
    Raises ``ImproperlyConfigured`` for anything but None or a non-empty list
    of entries :func:`parse_key_entry` accepts.
    """
    if value is None:
        return [KeyEntry(kid=None, key=default_key)]
    if not isinstance(value, (list, tuple)) or not value:
        raise ImproperlyConfigured("TOKENKIT['SIGNING_KEYS'] must be a non-empty list.")
    return [parse_key_entry(entry) for entry in value]


def is_key_list(value: object) -> bool:
    """Whether :func:`load_key_entries` accepts ``value``."""
    try:
        load_key_entries(value, default_key="")
    except ImproperlyConfigured:
        return False
    return True


# --- loaded keys -------------------------------------------------------------------

PrivateKey = Any


@dataclass(frozen=True, eq=False)
class Key:
    """A configured key, parsed once: what signs, what verifies, under which algorithm.

    ``signer`` is the HMAC secret or the private key object, None for a
    verify-only public key; ``verifier`` is the HMAC secret or the public
    key object. Both are what PyJWT takes without parsing anything again.
    """

    kid: str | None
    algorithm: Algorithm
    signer: str | PrivateKey | None = field(repr=False)
    verifier: str | PublicKey = field(repr=False)
    #: The key's id, or ``#n`` for its position: how messages name it.
    label: str = ""

    @property
    def can_sign(self) -> bool:
        return self.signer is not None

    def public_jwk(self) -> dict[str, str] | None:
        """The public JWK (RFC 7517) with ``kid``, ``alg`` and ``use: "sig"``; None for HMAC.

        Only public members are ever built: the private key object is not
        read here at all.
        """
        if not self.algorithm.asymmetric:
            return None
        jwk = {**public_members(self.verifier), "use": "sig", "alg": self.algorithm.name}
        if self.kid is not None:
            jwk["kid"] = self.kid
        return jwk


KeyProblemKind = Literal[
    "unsupported_algorithm",
    "short",
    "public_as_secret",
    "unreadable",
    "weak_rsa",
    "mismatch",
    "verify_only_first",
    "duplicate_kid",
]


@dataclass(frozen=True)
class KeyProblem:
    """Why a configured key cannot be used; ``kind`` maps to a system check id.

    Every kind but ``short`` is also refused at run time by :func:`load_keys`;
    a short HMAC key is refused at run time by the settings
    (``tokenkit_settings.signing_keys``, through :func:`key_problems`).
    """

    kind: KeyProblemKind
    label: str
    message: str

    @property
    def fatal(self) -> bool:
        return self.kind != "short"


_PEM_START = "-----BEGIN"
#: How a public key looks when pasted where a secret belongs (PEM, OpenSSH).
_PUBLIC_KEY_MARKERS = (_PEM_START, "ssh-rsa ", "ssh-ed25519 ", "ecdsa-sha2-")


def _read_pem(text: str) -> bytes:
    """The PEM bytes of an inline PEM text or of the file ``text`` names (OSError)."""
    if text.lstrip().startswith(_PEM_START):
        return text.strip().encode()
    return Path(text).read_bytes()


def _parse_pem(data: bytes) -> tuple[PrivateKey | None, PublicKey]:
    """A (private, public) pair from PEM ``data``; private is None for a public key.

    Raises ``ValueError`` with a reason for anything else.
    """
    try:
        private = load_pem_private_key(data, password=None)
    except TypeError:
        raise ValueError("is an encrypted private key; give tokenkit an unencrypted one") from None
    except (ValueError, UnsupportedAlgorithm):
        private = None
    if private is not None:
        return private, private.public_key()
    try:
        return None, load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm):
        raise ValueError("is not a PEM private or public key") from None


def _matches(algorithm: Algorithm, public: PublicKey) -> bool:
    if algorithm.family == RSA:
        return isinstance(public, rsa.RSAPublicKey)
    if algorithm.family == EC:
        # ES256 is P-256 alone (RFC 7518 section 3.4).
        return isinstance(public, ec.EllipticCurvePublicKey) and public.curve.name == "secp256r1"
    return isinstance(public, ed25519.Ed25519PublicKey)  # EdDSA: Ed25519 only


def _key_type(public: PublicKey) -> str:
    if isinstance(public, rsa.RSAPublicKey):
        return "an RSA key"
    if isinstance(public, ec.EllipticCurvePublicKey):
        return f"an EC key on {public.curve.name}"
    return f"a {type(public).__name__.replace('PublicKey', '')} key"


def _load_one(
    entry: KeyEntry, algorithm: Algorithm, label: str
) -> tuple[Key | None, list[KeyProblem]]:
    """Parse one entry for ``algorithm``: the key, or the problems that stop it."""
    if not algorithm.asymmetric:
        if entry.key.lstrip().startswith(_PUBLIC_KEY_MARKERS):
            return None, [
                KeyProblem(
                    "public_as_secret",
                    label,
                    f"looks like a public or PEM key, but {algorithm.name} uses the key "
                    "as a shared secret: anyone holding the public key could sign tokens",
                )
            ]
        problems = []
        if len(entry.key.encode()) < algorithm.min_key_bytes:
            problems.append(
                KeyProblem("short", label, f"is shorter than {algorithm.min_key_bytes} bytes")
            )
        return Key(entry.kid, algorithm, entry.key, entry.key, label), problems
    try:
        private, public = _parse_pem(_read_pem(entry.key))
    except OSError as error:
        reason = error.strerror or type(error).__name__
        return None, [KeyProblem("unreadable", label, f"could not be read ({reason})")]
    except ValueError as error:
        return None, [KeyProblem("unreadable", label, str(error))]
    if not _matches(algorithm, public):
        what = "private" if private is not None else "public"
        return None, [
            KeyProblem(
                "mismatch", label, f"is {_key_type(public)} ({what}), not one for {algorithm.name}"
            )
        ]
    if isinstance(public, rsa.RSAPublicKey) and public.key_size < MIN_RSA_BITS:
        return None, [
            KeyProblem("weak_rsa", label, f"has {public.key_size} bits; RS256 needs {MIN_RSA_BITS}")
        ]
    kid = entry.kid or thumbprint(public)
    return Key(kid, algorithm, private, public, entry.kid or label), []


def inspect_keys(
    entries: Sequence[KeyEntry], default_algorithm: object
) -> tuple[list[Key], list[KeyProblem]]:
    """Load every entry and report every problem, without raising.

    ``default_algorithm`` is ``TOKENKIT['ALGORITHM']``, used by entries that
    name none. Keys that could not be loaded are left out of the list.
    """
    loaded: list[Key] = []
    problems: list[KeyProblem] = []
    for position, entry in enumerate(entries):
        label = entry.kid or f"#{position}"
        name = entry.algorithm if entry.algorithm is not None else default_algorithm
        algorithm = get_algorithm(name)
        if algorithm is None:
            problems.append(
                KeyProblem(
                    "unsupported_algorithm",
                    label,
                    f"uses the algorithm {name!r}, which tokenkit does not support",
                )
            )
            continue
        key, found = _load_one(entry, algorithm, label)
        problems.extend(found)
        if key is not None:
            loaded.append(key)
            if position == 0 and not key.can_sign:
                problems.append(
                    KeyProblem(
                        "verify_only_first",
                        label,
                        "is a public key in first place, where the key that signs goes: "
                        "put the private key first, or move this one after it",
                    )
                )
    problems.extend(
        KeyProblem("duplicate_kid", kid, "is the kid of more than one key")
        for kid in duplicate_kids(loaded)
    )
    return loaded, problems


def load_keys(entries: Sequence[KeyEntry], default_algorithm: object) -> list[Key]:
    """The usable keys of ``entries``, parsed once; raises on any fatal problem.

    The run-time twin of the system checks, for servers that never ran them
    (gunicorn): ``ImproperlyConfigured`` names the key and the problem.
    """
    loaded, problems = inspect_keys(entries, default_algorithm)
    fatal = [problem for problem in problems if problem.fatal]
    if fatal:
        raise ImproperlyConfigured(
            "TOKENKIT['SIGNING_KEYS']: "
            + "; ".join(f"key {problem.label} {problem.message}" for problem in fatal)
            + "."
        )
    return loaded


_Keyed = TypeVar("_Keyed", KeyEntry, Key)


def duplicate_kids(entries: Sequence[_Keyed]) -> list[str]:
    """The key ids that more than one entry carries, sorted.

    A ``kid`` must name one key, or a token's header could not say which
    key verifies it.
    """
    kids = [entry.kid for entry in entries if entry.kid is not None]
    return sorted({kid for kid in kids if kids.count(kid) > 1})


def key_problems(algorithm: Algorithm, entries: Sequence[KeyEntry]) -> list[tuple[str, str]]:
    """Each HMAC key too short for ``algorithm``, as (label, problem) pairs."""
    problems = []
    for position, entry in enumerate(entries):
        if len(entry.key.encode()) < algorithm.min_key_bytes:
            label = entry.kid or f"#{position}"
            problems.append((label, f"is shorter than {algorithm.min_key_bytes} bytes"))
    return problems


def signing_key(keys: Sequence[_Keyed]) -> _Keyed:
    """The key new tokens are signed with: the first configured."""
    return keys[0]


def verification_keys(keys: list[_Keyed], kid: str | None) -> list[_Keyed]:
    """The keys to try for a token whose header carries ``kid``.

    An unknown ``kid`` gives an empty list: the caller refuses the token
    rather than trying keys it was not signed with. Without ``kid`` every
    key is tried, in order (``keys`` itself: this runs on every request).
    """
    if kid is None:
        return keys
    return [key for key in keys if key.kid == kid]


# --- JWK ---------------------------------------------------------------------------


#: The algorithm each key type may be published for.
_FAMILY_OF_KTY: dict[str, Family] = {"RSA": RSA, "EC": EC, "OKP": OKP}


def key_from_jwk(jwk: object) -> Key:
    """A verify-only :class:`Key` from a published public JWK (another service's JWKS).

    The JWK must name its ``alg``, one of tokenkit's asymmetric algorithms
    matching its ``kty``; a JWK with private members is refused, as is one
    whose ``use`` is not ``sig``. Raises ``ValueError`` with the reason.
    """
    if not isinstance(jwk, dict):
        raise ValueError("a JWK must be an object")
    if any(member in jwk for member in ("d", "p", "q", "dp", "dq", "qi", "k")):
        raise ValueError("the JWK holds private or secret members")
    if jwk.get("use", "sig") != "sig":
        raise ValueError("the JWK is not for signatures")
    algorithm = get_algorithm(jwk.get("alg"))
    if algorithm is None or _FAMILY_OF_KTY.get(str(jwk.get("kty"))) != algorithm.family:
        raise ValueError("the JWK names no supported algorithm for its key type")
    public = public_key(jwk)
    if isinstance(public, rsa.RSAPublicKey) and public.key_size < MIN_RSA_BITS:
        raise ValueError(f"the RSA key has fewer than {MIN_RSA_BITS} bits")
    kid = jwk.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise ValueError("the JWK's kid is not a string")
    return Key(kid or thumbprint(public), algorithm, None, public, kid or "")


def jwks(keys: Sequence[Key]) -> dict[str, list[dict[str, str]]]:
    """The JWK Set (RFC 7517 section 5) of the asymmetric keys among ``keys``."""
    return {"keys": [jwk for jwk in (key.public_jwk() for key in keys) if jwk is not None]}
