"""Key and algorithm knowledge: families, loading, validation and choice of key."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

from django_tokenkit import keys
from django_tokenkit.keys import KeyEntry

STRONG = "s" * 64


@pytest.mark.parametrize(("name", "min_bytes"), [("HS256", 32), ("HS384", 48), ("HS512", 64)])
def test_algorithms_hmac_family_needs_hash_sized_keys(name: str, min_bytes: int) -> None:
    algorithm = keys.get_algorithm(name)

    assert algorithm is not None
    assert algorithm.family == keys.HMAC
    assert algorithm.min_key_bytes == min_bytes
    assert not algorithm.asymmetric
    assert name in keys.HMAC_ALGORITHMS
    assert name not in keys.ASYMMETRIC_ALGORITHMS


def test_algorithms_supported_are_hmac_and_asymmetric_together() -> None:
    assert keys.SUPPORTED_ALGORITHMS == keys.HMAC_ALGORITHMS | keys.ASYMMETRIC_ALGORITHMS


@pytest.mark.parametrize("name", ["none", "RS512", "hs256", None, 256])
def test_get_algorithm_unsupported_is_none(name: Any) -> None:
    assert keys.get_algorithm(name) is None


def test_asymmetric_family_is_asymmetric() -> None:
    assert keys.Algorithm("RS256", "RSA", 256).asymmetric


def test_load_key_entries_none_is_the_default_key() -> None:
    assert keys.load_key_entries(None, default_key="secret") == [KeyEntry(kid=None, key="secret")]


def test_load_key_entries_mixed_forms_keep_order_and_blank_kid_is_none() -> None:
    value = [{"kid": "k1", "key": "a"}, "b", {"kid": "", "key": "c"}, {"key": "d"}]

    assert keys.load_key_entries(value, default_key="unused") == [
        KeyEntry(kid="k1", key="a"),
        KeyEntry(kid=None, key="b"),
        KeyEntry(kid=None, key="c"),
        KeyEntry(kid=None, key="d"),
    ]


@pytest.mark.parametrize(
    "value",
    [[], (), "key", 1, [1], [{"kid": "a"}], [{"kid": 1, "key": "k"}], [{"key": b"k"}]],
)
def test_load_key_entries_malformed_raises_and_is_not_a_key_list(value: Any) -> None:
    with pytest.raises(ImproperlyConfigured, match="SIGNING_KEYS"):
        keys.load_key_entries(value, default_key="unused")
    assert not keys.is_key_list(value)


def test_key_problems_short_keys_named_by_kid_or_position() -> None:
    hs512 = keys.ALGORITHMS["HS512"]
    entries = [KeyEntry(None, STRONG), KeyEntry("old", "x" * 63), KeyEntry(None, "short")]

    assert keys.key_problems(hs512, entries) == [
        ("old", "is shorter than 64 bytes"),
        ("#2", "is shorter than 64 bytes"),
    ]


def test_key_problems_counts_bytes_not_characters() -> None:
    # 16 two-byte characters are 32 bytes: enough for HS256.
    assert keys.key_problems(keys.ALGORITHMS["HS256"], [KeyEntry(None, "é" * 16)]) == []


def test_duplicate_kids_lists_each_shared_kid_once() -> None:
    entries = [KeyEntry("b", "1"), KeyEntry("a", "2"), KeyEntry("b", "3"), KeyEntry("a", "4")]

    assert keys.duplicate_kids([*entries, KeyEntry(None, "5"), KeyEntry(None, "6")]) == ["a", "b"]


def test_signing_key_is_the_first_entry() -> None:
    entries = [KeyEntry("new", "n"), KeyEntry("old", "o")]

    assert keys.signing_key(entries) == KeyEntry("new", "n")


def test_verification_keys_by_kid_without_kid_and_unknown_kid() -> None:
    entries = [KeyEntry("new", "n"), KeyEntry(None, "plain"), KeyEntry("old", "o")]

    assert keys.verification_keys(entries, "old") == [KeyEntry("old", "o")]
    assert keys.verification_keys(entries, None) == entries
    assert keys.verification_keys(entries, "unknown") == []
