"""``GET .well-known/jwks.json`` and the key rotation procedure it serves (docs/keys.rst)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import jwt
import pytest
from rest_framework.test import APIClient

from django_tokenkit import keys
from django_tokenkit.conf import tokenkit_settings
from django_tokenkit.jwk import thumbprint
from tests.helpers import FROZEN_AT, login, whoami
from tests.keypairs import HMAC_KEY, private_key, private_pem, public_pem

JWKS_URL = "/api/auth/.well-known/jwks.json"
#: Every member of a private or secret JWK (RFC 7518 sections 6.2.2, 6.3.2, 6.4.1).
PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}
PUBLIC_MEMBERS = {
    "RS256": {"kty", "n", "e", "kid", "alg", "use"},
    "ES256": {"kty", "crv", "x", "y", "kid", "alg", "use"},
    "EdDSA": {"kty", "crv", "x", "kid", "alg", "use"},
}


@pytest.mark.parametrize("algorithm", ["RS256", "ES256", "EdDSA"])
def test_jwks_lists_public_members_kid_alg_use_and_never_private_ones(
    api_client: APIClient, settings: Any, algorithm: str
) -> None:
    settings.TOKENKIT = {
        "ALGORITHM": algorithm,
        "SIGNING_KEYS": [private_pem(algorithm), public_pem(f"{algorithm}-next")],
    }

    response = api_client.get(JWKS_URL)

    assert response.status_code == 200
    published = response.json()["keys"]
    assert [jwk["kid"] for jwk in published] == [key.kid for key in tokenkit_settings.signing_keys]
    for jwk in published:
        assert set(jwk) == PUBLIC_MEMBERS[algorithm]
        assert not set(jwk) & PRIVATE_MEMBERS
        assert (jwk["alg"], jwk["use"]) == (algorithm, "sig")
    # What a verifier rebuilds from the document is the configured public key.
    rebuilt = keys.key_from_jwk(published[0])
    assert rebuilt.kid == thumbprint(private_key(algorithm).public_key())
    assert b"PRIVATE" not in response.content


def test_jwks_mixed_list_publishes_asymmetric_keys_only(
    api_client: APIClient, settings: Any
) -> None:
    settings.TOKENKIT = {
        "ALGORITHM": "ES256",
        "SIGNING_KEYS": [private_pem("ES256"), {"key": HMAC_KEY, "algorithm": "HS256"}],
    }

    published = api_client.get(JWKS_URL).json()["keys"]

    assert [jwk["alg"] for jwk in published] == ["ES256"]
    assert HMAC_KEY not in str(published)


def test_jwks_cache_control_and_cors_headers(api_client: APIClient, settings: Any) -> None:
    settings.TOKENKIT = {"ALGORITHM": "EdDSA", "SIGNING_KEYS": [private_pem("EdDSA")]}

    default = api_client.get(JWKS_URL)
    settings.TOKENKIT = {**settings.TOKENKIT, "JWKS_MAX_AGE": timedelta(minutes=5)}
    changed = api_client.get(JWKS_URL)

    assert default["Cache-Control"] == "public, max-age=3600"
    assert changed["Cache-Control"] == "public, max-age=300"
    assert default["Access-Control-Allow-Origin"] == "*"
    assert default["Content-Type"] == "application/json"


@pytest.mark.parametrize(
    "tokenkit",
    [{}, {"SIGNING_KEYS": [HMAC_KEY]}, {"ALGORITHM": "HS512", "SIGNING_KEYS": ["k" * 64]}],
)
def test_jwks_with_hmac_keys_only_is_404(
    api_client: APIClient, settings: Any, tokenkit: dict[str, Any]
) -> None:
    settings.TOKENKIT = tokenkit

    response = api_client.get(JWKS_URL)

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert "keys" not in response.json()


def test_jwks_other_methods_are_405(api_client: APIClient, settings: Any) -> None:
    settings.TOKENKIT = {"ALGORITHM": "ES256", "SIGNING_KEYS": [private_pem("ES256")]}

    assert api_client.post(JWKS_URL, {}).status_code == 405


def refresh(client: APIClient, pair: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/api/auth/token/refresh/", {"refresh": pair["refresh"]}, format="json")
    assert response.status_code == 200, response.content
    renewed: dict[str, Any] = response.json()
    return renewed


def test_rotation_procedure_end_to_end_logs_nobody_out(
    api_client: APIClient, user: Any, settings: Any, frozen: Any
) -> None:
    """docs/keys.rst, step by step: publish, wait, sign with the new key, retire the old."""
    old, new = private_pem("ES256"), private_pem("ES256-next")
    old_kid = thumbprint(private_key("ES256").public_key())
    new_kid = thumbprint(private_key("ES256-next").public_key())
    base = {"ALGORITHM": "ES256", "JWKS_MAX_AGE": 60}
    settings.TOKENKIT = {**base, "SIGNING_KEYS": [old]}
    before = login(api_client)

    # 1. Publish the next key, verify-only: its public half is enough.
    settings.TOKENKIT = {**base, "SIGNING_KEYS": [old, public_pem("ES256-next")]}
    assert [jwk["kid"] for jwk in api_client.get(JWKS_URL).json()["keys"]] == [old_kid, new_kid]
    assert whoami(api_client, before).status_code == 200

    # 2. Wait at least twice JWKS_MAX_AGE; 3. sign with the new key, keep the old one.
    frozen.shift(timedelta(seconds=2 * 60))
    settings.TOKENKIT = {**base, "SIGNING_KEYS": [new, public_pem("ES256")]}
    switched_at = FROZEN_AT + timedelta(seconds=2 * 60)
    assert whoami(api_client, before).status_code == 200  # old-key access token
    after = refresh(api_client, before)  # old-key refresh token
    assert jwt.get_unverified_header(after["access"])["kid"] == new_kid
    assert jwt.get_unverified_header(after["refresh"])["kid"] == new_kid
    assert whoami(api_client, after).status_code == 200

    # The user stays active: a refresh near the end of the refresh lifetime.
    frozen.move_to(switched_at + tokenkit_settings.refresh_token_lifetime - timedelta(hours=1))
    latest = refresh(api_client, after)

    # 4. Retire the old key once the longest-lived token it signed has expired.
    frozen.move_to(switched_at + tokenkit_settings.refresh_token_lifetime + timedelta(seconds=31))
    settings.TOKENKIT = {**base, "SIGNING_KEYS": [new]}
    assert [jwk["kid"] for jwk in api_client.get(JWKS_URL).json()["keys"]] == [new_kid]
    assert whoami(api_client, refresh(api_client, latest)).status_code == 200
