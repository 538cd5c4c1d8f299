"""A verifying service: the JWKS client's cache and JWKSAuthentication, over real HTTP.

The issuer's JWKS is served by a real HTTP server in a thread of this process
(:class:`JWKSServer`), whose answers each test sets. Two example-project
servers trusting each other are in ``test_e2e_keys.py``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from rest_framework.test import APIClient

from django_tokenkit import keys, tokens
from django_tokenkit.conf import tokenkit_settings
from django_tokenkit.exceptions import ServiceUnavailable
from django_tokenkit.jwk import thumbprint
from django_tokenkit.verifying import JWKSClient, forget_client, max_age_of
from tests.helpers import assert_unauthorized, bearer, login
from tests.keypairs import private_key, private_pem

REMOTE_URL = "/api/remote-whoami/"


class JWKSServer:
    """A JWKS endpoint on 127.0.0.1; ``document``, ``status``, ``cache_control`` its answer."""

    def __init__(self) -> None:
        self.document: Any = {"keys": []}
        self.status = 200
        self.cache_control: str | None = "public, max-age=300"
        self.requests = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                server.requests += 1
                body = json.dumps(server.document).encode()
                self.send_response(server.status)
                self.send_header("Content-Type", "application/json")
                if server.cache_control is not None:
                    self.send_header("Cache-Control", server.cache_control)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/.well-known/jwks.json"

    def publish(self, *kinds: str) -> list[str]:
        """Serve the public JWKs of these test keys; return their kids."""
        published = [
            keys.Key(
                None, keys.ALGORITHMS[kind.split("-")[0]], None, private_key(kind).public_key()
            )
            for kind in kinds
        ]
        self.document = {
            "keys": [
                {**(key.public_jwk() or {}), "kid": thumbprint(key.verifier)} for key in published
            ]
        }
        return [jwk["kid"] for jwk in self.document["keys"]]


@pytest.fixture
def jwks_server() -> Iterator[JWKSServer]:
    server = JWKSServer()
    thread = threading.Thread(target=server.httpd.serve_forever, daemon=True)
    thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


def public_key(kind: str) -> Any:
    return private_key(kind).public_key()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def client_for(server: JWKSServer, clock: Clock, **options: float) -> JWKSClient:
    return JWKSClient(
        server.url,
        min_refetch_interval=options.get("min_refetch_interval", 60),
        default_max_age=options.get("default_max_age", 3600),
        clock=clock,
    )


# max-age parsing --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("public, max-age=3600", 3600),
        ("max-age=60, public", 60),
        ('max-age="120"', 120),
        ("public, no-cache", 0),
        ("no-store", 0),
        ("public", 99),
        (None, 99),
        ("s-maxage=10", 99),
    ],
)
def test_max_age_of_cache_control_values(header: str | None, expected: float) -> None:
    assert max_age_of(header, 99) == expected


# the client's cache -------------------------------------------------------------------


def test_jwks_client_honours_max_age(jwks_server: JWKSServer) -> None:
    (kid,) = jwks_server.publish("ES256")
    clock = Clock()
    client = client_for(jwks_server, clock)

    assert [key.kid for key in client.keys_for(kid)] == [kid]
    clock.now += 299
    client.keys_for(kid)
    assert jwks_server.requests == 1
    clock.now += 2
    client.keys_for(kid)
    assert jwks_server.requests == 2


def test_jwks_client_unknown_kid_refetches_at_most_once_per_interval(
    jwks_server: JWKSServer,
) -> None:
    (kid,) = jwks_server.publish("ES256")
    clock = Clock()
    client = client_for(jwks_server, clock, min_refetch_interval=60)
    client.keys_for(kid)

    for _ in range(20):
        assert client.keys_for("invented") == []
    assert jwks_server.requests == 1  # the first fetch was under a minute ago

    # The issuer publishes its next key; a token signed with it arrives later.
    _, next_kid = jwks_server.publish("ES256", "ES256-next")
    clock.now += 60
    assert [key.kid for key in client.keys_for(next_kid)] == [next_kid]
    assert client.keys_for("invented-again") == []
    assert jwks_server.requests == 2


def test_jwks_client_keeps_stale_keys_when_refetch_fails(jwks_server: JWKSServer) -> None:
    (kid,) = jwks_server.publish("EdDSA")
    clock = Clock()
    client = client_for(jwks_server, clock)
    client.keys_for(kid)
    jwks_server.status = 500
    clock.now += 3600

    assert [key.kid for key in client.keys_for(kid)] == [kid]
    assert jwks_server.requests == 2
    jwks_server.httpd.shutdown()  # the issuer is gone altogether: connections refused
    jwks_server.httpd.server_close()
    clock.now += 60
    assert [key.kid for key in client.keys_for(kid)] == [kid]


def test_jwks_client_without_any_keys_and_issuer_down_is_503(jwks_server: JWKSServer) -> None:
    jwks_server.status = 503
    client = client_for(jwks_server, Clock())

    with pytest.raises(ServiceUnavailable):
        client.keys_for("kid")


@pytest.mark.parametrize(
    "document",
    [
        {"keys": [{"kty": "RSA", "n": "AQAB", "e": "AQAB", "alg": "HS256"}]},
        {"keys": [{"kty": "oct", "k": "c2VjcmV0", "alg": "HS256", "kid": "secret"}]},
        {"keys": [{"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA", "alg": "ES256"}]},
        {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "AA", "alg": "EdDSA", "d": "AA"}]},
        {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "AA", "alg": "EdDSA", "use": "enc"}]},
        {"keys": ["not a jwk"]},
    ],
)
def test_jwks_client_skips_keys_it_must_not_use(
    jwks_server: JWKSServer, document: dict[str, Any]
) -> None:
    jwks_server.document = document

    assert client_for(jwks_server, Clock()).keys_for(None) == []


@pytest.mark.parametrize("document", [[], {"no": "keys"}, "text"])
def test_jwks_client_malformed_document_is_a_failed_fetch(
    jwks_server: JWKSServer, document: Any
) -> None:
    jwks_server.document = document

    with pytest.raises(ServiceUnavailable):
        client_for(jwks_server, Clock()).keys_for(None)


# JWKSAuthentication -------------------------------------------------------------------


@pytest.fixture
def issuer(settings: Any, jwks_server: JWKSServer) -> Iterator[dict[str, Any]]:
    """This process signs with ES256 (the issuer) and verifies through JWKS_URL (the verifier).

    The settings are shared, which is what two deployments with the same
    ISSUER and AUDIENCE look like; only the JWKS view's keys cross HTTP.
    """
    tokenkit = {
        **settings.TOKENKIT,
        "ALGORITHM": "ES256",
        "SIGNING_KEYS": [private_pem("ES256")],
        "ISSUER": "https://issuer.example",
        "AUDIENCE": "notes",
        "JWKS_URL": jwks_server.url,
    }
    settings.TOKENKIT = tokenkit
    jwks_server.document = keys.jwks(tokenkit_settings.signing_keys)
    yield tokenkit
    forget_client()


def test_jwks_authentication_accepts_issuer_token_with_a_token_user(
    issuer: dict[str, Any], api_client: APIClient, user: Any
) -> None:
    pair = login(api_client)

    response = api_client.get(REMOTE_URL, **bearer(pair["access"]))

    assert response.status_code == 200, response.content
    assert response.json()["sub"] == str(user.pk)
    assert response.json()["claims"]["iss"] == "https://issuer.example"


@pytest.mark.parametrize(
    ("name", "value"), [("ISSUER", "https://other.example"), ("AUDIENCE", "billing")]
)
def test_jwks_authentication_wrong_iss_or_aud_is_token_invalid(
    issuer: dict[str, Any], api_client: APIClient, user: Any, settings: Any, name: str, value: str
) -> None:
    pair = login(api_client)
    settings.TOKENKIT = {**issuer, name: value}

    assert_unauthorized(api_client.get(REMOTE_URL, **bearer(pair["access"])), "token_invalid")


def test_jwks_authentication_refresh_token_and_hmac_token_are_token_invalid(
    issuer: dict[str, Any], api_client: APIClient, user: Any, settings: Any
) -> None:
    pair = login(api_client)
    settings.TOKENKIT = {**issuer, "ALGORITHM": "HS256", "SIGNING_KEYS": ["h" * 64]}
    hmac_pair = login(api_client)
    settings.TOKENKIT = issuer

    for raw in (pair["refresh"], hmac_pair["access"]):
        assert_unauthorized(api_client.get(REMOTE_URL, **bearer(raw)), "token_invalid")


def test_jwks_authentication_revocation_through_shared_cache(
    issuer: dict[str, Any], api_client: APIClient, user: Any, settings: Any, transactional_db: Any
) -> None:
    pair = login(api_client)
    settings.TOKENKIT = {**issuer, "JWKS_CHECK_REVOCATION": True}
    assert api_client.get(REMOTE_URL, **bearer(pair["access"])).status_code == 200

    response = api_client.post("/api/auth/logout/", {"refresh": pair["refresh"]}, format="json")
    assert response.status_code == 204

    assert_unauthorized(api_client.get(REMOTE_URL, **bearer(pair["access"])), "token_revoked")
    settings.TOKENKIT = {**issuer, "JWKS_CHECK_REVOCATION": False}
    # Without the shared cache check the verifier cannot know: the documented trade-off.
    assert api_client.get(REMOTE_URL, **bearer(pair["access"])).status_code == 200


def test_jwks_authentication_never_renews_a_remote_token(
    issuer: dict[str, Any], api_client: APIClient, user: Any, frozen: Any
) -> None:
    pair = login(api_client)
    frozen.shift(tokenkit_settings.access_token_lifetime - timedelta(minutes=1))

    remote = api_client.get(REMOTE_URL, **bearer(pair["access"]))
    local = api_client.get("/api/whoami/", **bearer(pair["access"]))

    assert remote.status_code == 200
    assert "X-New-Token" not in remote
    assert "X-New-Token" in local  # the issuer does renew it


def test_jwks_authentication_issuer_unreachable_without_keys_is_503(
    issuer: dict[str, Any], api_client: APIClient, user: Any, jwks_server: JWKSServer
) -> None:
    pair = login(api_client)
    jwks_server.status = 500

    response = api_client.get(REMOTE_URL, **bearer(pair["access"]))

    assert response.status_code == 503
    assert response.json()["code"] == "service_unavailable"


def test_decode_remote_and_local_verifications_are_remembered_apart(
    issuer: dict[str, Any], api_client: APIClient, user: Any
) -> None:
    pair = login(api_client)
    local = tokens.decode(pair["access"], tokens.ACCESS)

    assert local.issued_here
    assert api_client.get(REMOTE_URL, **bearer(pair["access"])).status_code == 200
    assert tokens.decode(pair["access"], tokens.ACCESS).issued_here
