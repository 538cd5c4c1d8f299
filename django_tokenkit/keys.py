"""Which key signs a new token and which keys may verify a presented one.

The first configured key signs; every key verifies, so an operator rotates by
putting a new key first and removing the old one once the longest-lived token
it signed has expired (SPEC section 4). Keys with ids are matched on the
token's ``kid`` header; a token without ``kid`` is tried against each key in
order, so id-less keys can rotate too.
"""

from __future__ import annotations

from django_tokenkit.conf import KeyEntry, tokenkit_settings

#: Minimum HMAC key length in bytes: the hash's output size (RFC 7518 section 3.2).
HMAC_MIN_KEY_BYTES = {"HS256": 32, "HS384": 48, "HS512": 64}


def signing_key() -> KeyEntry:
    """Return the key new tokens are signed with."""
    return tokenkit_settings.signing_keys[0]


def verification_keys(kid: str | None) -> list[KeyEntry]:
    """Return the keys to try for a token whose header carries ``kid``.

    An unknown ``kid`` gives an empty list: the caller refuses the token
    rather than trying keys it was not signed with.
    """
    keys = tokenkit_settings.signing_keys
    if kid is None:
        return keys
    return [entry for entry in keys if entry.kid == kid]
