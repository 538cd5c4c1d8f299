"""What tokenkit knows about algorithms and keys: families, loading, validation, choice.

One home for key knowledge, so that adding the asymmetric families (RS256,
ES256, EdDSA) means adding rows to :data:`ALGORITHMS` and a loader here, not
edits across settings, checks and tokens. This module reads no settings:
:mod:`django_tokenkit.conf` turns ``TOKENKIT['SIGNING_KEYS']`` into
:class:`KeyEntry` objects with :func:`load_key_entries`,
:mod:`django_tokenkit.checks` reports :func:`key_problems` and duplicate ids
with their check ids, and :mod:`django_tokenkit.tokens` (the only module that
imports PyJWT) asks :func:`signing_key` and :func:`verification_keys` which
key to use.

The first configured key signs; every key verifies, so an operator rotates by
putting a new key first and removing the old one once the longest-lived token
it signed has expired (SPEC section 4). Keys with ids are matched on the
token's ``kid`` header; a token without ``kid`` is tried against each key in
order, so id-less keys can rotate too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from django.core.exceptions import ImproperlyConfigured

#: The JOSE algorithm families (RFC 7518 section 3.1). Only HMAC is supported
#: today; the others name where RS256, ES256 and EdDSA will go.
Family = Literal["HMAC", "RSA", "EC", "OKP"]
HMAC: Family = "HMAC"


@dataclass(frozen=True)
class Algorithm:
    """One supported JWS algorithm (RFC 7518 section 3.1)."""

    name: str
    family: Family
    #: The shortest key accepted, in bytes: for HMAC the hash's output size
    #: (RFC 7518 section 3.2).
    min_key_bytes: int

    @property
    def asymmetric(self) -> bool:
        """Whether a key pair signs and verifies (a public key can be published)."""
        return self.family != HMAC


#: Every algorithm tokenkit signs and verifies with, by its JOSE name.
ALGORITHMS: dict[str, Algorithm] = {
    algorithm.name: algorithm
    for algorithm in (
        Algorithm("HS256", HMAC, 32),
        Algorithm("HS384", HMAC, 48),
        Algorithm("HS512", HMAC, 64),
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
    """One configured key: ``kid`` is None when the key carries no id."""

    kid: str | None
    key: str


def parse_key_entry(entry: object) -> KeyEntry:
    """Turn one item of ``SIGNING_KEYS`` into a :class:`KeyEntry`.

    Raises ``ImproperlyConfigured`` for anything but a string or a
    ``{"kid": str, "key": str}`` dict (an empty ``kid`` means none).
    """
    if isinstance(entry, str):
        return KeyEntry(kid=None, key=entry)
    if isinstance(entry, dict):
        key = entry.get("key")
        kid = entry.get("kid")
        if isinstance(key, str) and (kid is None or isinstance(kid, str)):
            return KeyEntry(kid=kid or None, key=key)
    raise ImproperlyConfigured(
        'Each TOKENKIT[\'SIGNING_KEYS\'] entry must be a string or {"kid": str, "key": str}.'
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


def key_problems(algorithm: Algorithm, entries: Sequence[KeyEntry]) -> list[tuple[str, str]]:
    """Each key too weak for ``algorithm``, as (label, problem) pairs.

    The label is the key's ``kid``, or ``#n`` for its position when it has none.
    """
    problems = []
    for position, entry in enumerate(entries):
        if len(entry.key.encode()) < algorithm.min_key_bytes:
            label = entry.kid or f"#{position}"
            problems.append((label, f"is shorter than {algorithm.min_key_bytes} bytes"))
    return problems


def duplicate_kids(entries: Sequence[KeyEntry]) -> list[str]:
    """The key ids that more than one entry carries, sorted.

    A ``kid`` must name one key, or a token's header could not say which
    key verifies it.
    """
    kids = [entry.kid for entry in entries if entry.kid is not None]
    return sorted({kid for kid in kids if kids.count(kid) > 1})


def signing_key(entries: Sequence[KeyEntry]) -> KeyEntry:
    """The key new tokens are signed with: the first configured."""
    return entries[0]


def verification_keys(entries: list[KeyEntry], kid: str | None) -> list[KeyEntry]:
    """The keys to try for a token whose header carries ``kid``.

    An unknown ``kid`` gives an empty list: the caller refuses the token
    rather than trying keys it was not signed with. Without ``kid`` every
    key is tried, in order (``entries`` itself: this runs on every request).
    """
    if kid is None:
        return entries
    return [entry for entry in entries if entry.kid == kid]
