"""RS256, ES256 and EdDSA keys: loading once, kid thumbprints, checks and run-time refusal."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from django.core.exceptions import ImproperlyConfigured

from django_tokenkit import checks, keys, tokens
from django_tokenkit.conf import tokenkit_settings
from django_tokenkit.exceptions import TokenInvalid
from django_tokenkit.jwk import thumbprint
from tests.helpers import FROZEN_AT
from tests.keypairs import ALGORITHMS, HMAC_KEY, private_key, private_pem, public_pem

ASYMMETRIC = ["RS256", "ES256", "EdDSA"]

pytestmark = pytest.mark.usefixtures("frozen")


def check_ids(settings: Any, tokenkit: dict[str, Any]) -> list[str]:
    settings.TOKENKIT = tokenkit
    return [message.id for message in checks.check_keys() if message.id is not None]


def sign(**claims: Any) -> str:
    raw, _ = tokens.encode(
        tokens.ACCESS,
        sub="1",
        sid="s",
        auth_time=FROZEN_AT,
        expires_at=FROZEN_AT + timedelta(minutes=5),
        now=FROZEN_AT,
        **claims,
    )
    return raw


# kid: RFC 7638 thumbprints -----------------------------------------------------------


def test_thumbprint_rfc7638_example_key_matches_the_rfc() -> None:
    # RFC 7638 section 3.1: the example RSA key and its thumbprint.
    n = (
        "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSo"
        "c_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65Y"
        "GjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrd"
        "kt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKn"
        "qDKgw"
    )
    jwk = {"kty": "RSA", "n": n, "e": "AQAB", "alg": "RS256"}

    key = keys.key_from_jwk(jwk)

    assert key.kid == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


@pytest.mark.parametrize("algorithm", ASYMMETRIC)
def test_load_keys_pem_without_kid_gets_thumbprint_and_signs(settings: Any, algorithm: str) -> None:
    settings.TOKENKIT = {"ALGORITHM": algorithm, "SIGNING_KEYS": [private_pem(algorithm)]}

    (key,) = tokenkit_settings.signing_keys
    raw = sign()

    assert key.kid == thumbprint(private_key(algorithm).public_key())
    assert jwt.get_unverified_header(raw) == {"alg": algorithm, "typ": "at+jwt", "kid": key.kid}
    assert tokens.decode(raw, tokens.ACCESS).kid == key.kid


@pytest.mark.parametrize("algorithm", ASYMMETRIC)
def test_load_keys_pem_file_path_and_given_kid(
    settings: Any, tmp_path: Path, algorithm: str
) -> None:
    path = tmp_path / "key.pem"
    path.write_text(private_pem(algorithm))
    settings.TOKENKIT = {"ALGORITHM": algorithm, "SIGNING_KEYS": [{"kid": "k1", "key": str(path)}]}

    assert tokens.decode(sign(), tokens.ACCESS).kid == "k1"
    assert check_ids(settings, settings.TOKENKIT) == []


def test_signing_keys_parsed_once_per_process_and_again_after_setting_change(
    settings: Any,
) -> None:
    settings.TOKENKIT = {"ALGORITHM": "RS256", "SIGNING_KEYS": [private_pem("RS256")]}
    first = tokenkit_settings.signing_keys
    sign()
    tokens.decode(sign(), tokens.ACCESS)

    assert tokenkit_settings.signing_keys is first
    assert tokenkit_settings.signing_keys[0].signer is first[0].signer

    settings.TOKENKIT = {**settings.TOKENKIT, "LEEWAY": 5}

    assert tokenkit_settings.signing_keys is not first


@pytest.mark.parametrize("algorithm", ASYMMETRIC)
def test_verify_only_public_key_verifies_what_its_private_key_signed(
    settings: Any, algorithm: str
) -> None:
    settings.TOKENKIT = {"ALGORITHM": algorithm, "SIGNING_KEYS": [private_pem(algorithm)]}
    raw = sign()
    settings.TOKENKIT = {
        "ALGORITHM": algorithm,
        "SIGNING_KEYS": [private_pem(f"{algorithm}-next"), public_pem(algorithm)],
    }

    assert tokens.decode(raw, tokens.ACCESS).sub == "1"
    assert check_ids(settings, settings.TOKENKIT) == []


def test_entries_with_their_own_algorithm_verify_side_by_side(settings: Any) -> None:
    """Moving from HS256 to ES256: the HMAC key stays as verify-only under its own algorithm."""
    settings.TOKENKIT = {"SIGNING_KEYS": [HMAC_KEY]}
    old = sign()
    settings.TOKENKIT = {
        "ALGORITHM": "ES256",
        "SIGNING_KEYS": [private_pem("ES256"), {"key": HMAC_KEY, "algorithm": "HS256"}],
    }
    new = sign()

    assert tokens.decode(old, tokens.ACCESS).sub == "1"
    assert jwt.get_unverified_header(new)["alg"] == "ES256"
    assert tokens.decode(new, tokens.ACCESS).sub == "1"
    assert check_ids(settings, settings.TOKENKIT) == []


# the algorithm is the key's, never the token's ---------------------------------------


@pytest.mark.parametrize("algorithm", ASYMMETRIC)
def test_decode_hs256_token_signed_with_the_public_key_is_refused(
    settings: Any, algorithm: str
) -> None:
    """The classic algorithm confusion: the public PEM used as an HMAC secret."""
    settings.TOKENKIT = {"ALGORITHM": algorithm, "SIGNING_KEYS": [private_pem(algorithm)]}
    genuine = jwt.get_unverified_header(sign())
    claims = jwt.decode(sign(), options={"verify_signature": False})
    secret = public_pem(algorithm).encode()
    header = {"typ": "at+jwt", "kid": genuine["kid"]}
    forged = jwt.api_jws.PyJWS(algorithms=["HS256"]).encode(
        json.dumps(claims).encode(), b"x" * 32, algorithm="HS256", headers=header
    )
    # Re-sign with the public key bytes, which PyJWT itself refuses to do.
    head, body, _ = forged.split(".")
    import base64
    import hashlib
    import hmac

    signature = hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
    forged = f"{head}.{body}." + base64.urlsafe_b64encode(signature).rstrip(b"=").decode()

    with pytest.raises(TokenInvalid, match="algorithm"):
        tokens.decode(forged, tokens.ACCESS)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_decode_alg_none_is_refused_for_every_algorithm(settings: Any, algorithm: str) -> None:
    key = HMAC_KEY if algorithm == "HS256" else private_pem(algorithm)
    settings.TOKENKIT = {"ALGORITHM": algorithm, "SIGNING_KEYS": [key]}
    claims = jwt.decode(sign(), options={"verify_signature": False})
    kid = tokenkit_settings.signing_keys[0].kid
    headers = {"typ": "at+jwt", **({"kid": kid} if kid else {})}
    unsigned = jwt.encode(claims, None, algorithm="none", headers=headers)  # type: ignore[arg-type]  # "none" takes no key

    with pytest.raises(TokenInvalid):
        tokens.decode(unsigned, tokens.ACCESS)


def test_decode_es256_token_against_rs256_key_of_same_kid_is_refused(settings: Any) -> None:
    settings.TOKENKIT = {
        "ALGORITHM": "ES256",
        "SIGNING_KEYS": [{"kid": "k", "key": private_pem("ES256")}],
    }
    raw = sign()
    settings.TOKENKIT = {
        "ALGORITHM": "RS256",
        "SIGNING_KEYS": [{"kid": "k", "key": private_pem("RS256")}],
    }

    with pytest.raises(TokenInvalid, match="algorithm"):
        tokens.decode(raw, tokens.ACCESS)


# checks, and the same refusal at run time ----------------------------------------


def encrypted_pem() -> str:
    return str(
        private_key("ES256")
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"password"),
        )
        .decode()
    )


REFUSED: list[tuple[str, dict[str, Any]]] = [
    ("tokenkit.E011", {"SIGNING_KEYS": [public_pem("ES256")]}),
    ("tokenkit.E011", {"SIGNING_KEYS": [HMAC_KEY, private_pem("RS256")]}),
    ("tokenkit.E011", {"SIGNING_KEYS": ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI" + "x" * 40]}),
    ("tokenkit.E012", {"ALGORITHM": "RS256", "SIGNING_KEYS": [private_pem("RSA1024")]}),
    (
        "tokenkit.E012",
        {"ALGORITHM": "RS256", "SIGNING_KEYS": [private_pem("RS256"), public_pem("RSA1024")]},
    ),
    ("tokenkit.E013", {"ALGORITHM": "ES256", "SIGNING_KEYS": [private_pem("RS256")]}),
    ("tokenkit.E013", {"ALGORITHM": "ES256", "SIGNING_KEYS": [private_pem("P384")]}),
    ("tokenkit.E013", {"ALGORITHM": "EdDSA", "SIGNING_KEYS": [private_pem("Ed448")]}),
    ("tokenkit.E013", {"ALGORITHM": "RS256", "SIGNING_KEYS": [private_pem("EdDSA")]}),
    (
        "tokenkit.E013",
        {"ALGORITHM": "EdDSA", "SIGNING_KEYS": [private_pem("EdDSA"), public_pem("ES256")]},
    ),
    (
        "tokenkit.E014",
        {"ALGORITHM": "ES256", "SIGNING_KEYS": [public_pem("ES256"), private_pem("ES256-next")]},
    ),
    ("tokenkit.E015", {"ALGORITHM": "ES256", "SIGNING_KEYS": ["/no/such/key.pem"]}),
    (
        "tokenkit.E015",
        {
            "ALGORITHM": "ES256",
            "SIGNING_KEYS": ["-----BEGIN PRIVATE KEY-----\nbroken\n-----END PRIVATE KEY-----"],
        },
    ),
    ("tokenkit.E015", {"ALGORITHM": "ES256", "SIGNING_KEYS": [encrypted_pem()]}),
    ("tokenkit.E015", {"ALGORITHM": "ES256", "SIGNING_KEYS": None}),
    (
        "tokenkit.E007",
        {"ALGORITHM": "ES256", "SIGNING_KEYS": [private_pem("ES256"), public_pem("ES256")]},
    ),
    (
        "tokenkit.E007",
        {
            "ALGORITHM": "EdDSA",
            "SIGNING_KEYS": [
                {"kid": "a", "key": private_pem("EdDSA")},
                {"kid": "a", "key": private_pem("EdDSA-next")},
            ],
        },
    ),
    ("tokenkit.E005", {"SIGNING_KEYS": [{"key": private_pem("RS256"), "algorithm": "PS256"}]}),
    ("tokenkit.E005", {"SIGNING_KEYS": [{"key": HMAC_KEY, "algorithm": "none"}]}),
]


@pytest.mark.parametrize(("check_id", "tokenkit"), REFUSED)
def test_check_keys_unusable_key_is_named_check_and_refused_at_run_time(
    settings: Any, check_id: str, tokenkit: dict[str, Any]
) -> None:
    assert check_ids(settings, tokenkit) == [check_id]
    with pytest.raises(ImproperlyConfigured, match="SIGNING_KEYS"):
        tokenkit_settings.signing_keys  # noqa: B018


@pytest.mark.parametrize("algorithm", ASYMMETRIC)
def test_check_keys_each_asymmetric_algorithm_with_its_own_key_passes(
    settings: Any, algorithm: str
) -> None:
    tokenkit = {"ALGORITHM": algorithm, "SIGNING_KEYS": [private_pem(algorithm)]}

    assert check_ids(settings, tokenkit) == []


def test_check_keys_short_hmac_key_is_e004_and_refused_at_run_time(settings: Any) -> None:
    # Servers such as gunicorn run no checks: a weak key must not sign there either.
    assert check_ids(settings, {"SIGNING_KEYS": ["short"]}) == ["tokenkit.E004"]
    with pytest.raises(ImproperlyConfigured, match="tokenkit_generate_key"):
        tokenkit_settings.signing_keys  # noqa: B018


def test_key_messages_never_contain_the_key(settings: Any) -> None:
    pem = private_pem("RS256")
    settings.TOKENKIT = {"ALGORITHM": "ES256", "SIGNING_KEYS": [pem]}

    messages = checks.check_keys()
    with pytest.raises(ImproperlyConfigured) as raised:
        tokenkit_settings.signing_keys  # noqa: B018

    body = pem.splitlines()[1]
    assert all(body not in str(message) for message in messages)
    assert body not in str(raised.value)
