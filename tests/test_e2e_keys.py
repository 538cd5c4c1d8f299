"""An issuer and verifying services as separate example-project servers (SPEC section 4).

The issuer signs with ES256 from PEM files (``TOKENKIT_ALGORITHM`` and
``TOKENKIT_SIGNING_KEY_FILES``) and serves its JWKS. Two verifying services,
each with a database of its own and neither holding a private key, trust it
through ``TOKENKIT_JWKS_URL``: one with the issuer's audience and the shared
Redis for revocation, one expecting another audience.
"""

from __future__ import annotations

from collections.abc import Iterator

import jwt
import pytest
import requests

from tests.e2e import HTTP_TIMEOUT, Server, SharedServices, bearer, manage, running_servers
from tests.keypairs import private_pem, public_pem

pytestmark = [pytest.mark.e2e, pytest.mark.services]

ISSUER = "https://issuer.example"
AUDIENCE = "notes"


@pytest.fixture(scope="module")
def deployment(
    e2e_services: SharedServices, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, Server, Server]]:
    workdir = tmp_path_factory.mktemp("keys")
    signing, next_public = workdir / "signing.pem", workdir / "next.pub.pem"
    signing.write_text(private_pem("ES256"))
    next_public.write_text(public_pem("ES256-next"))
    signing.chmod(0o600)
    claims = {"TOKENKIT_ISSUER": ISSUER}
    issuer_env = e2e_services.env(
        TOKENKIT_ALGORITHM="ES256",
        TOKENKIT_SIGNING_KEY_FILES=f"{signing},{next_public}",
        TOKENKIT_AUDIENCE=AUDIENCE,
        **claims,
    )
    with running_servers(issuer_env, workdir / "issuer", workers=2) as (issuer,):
        jwks_url = issuer.url("/api/auth/.well-known/jwks.json")
        verifiers = []
        for name, audience in (("same-audience", AUDIENCE), ("other-audience", "billing")):
            database = workdir / f"{name}.sqlite3"
            env = e2e_services.env(
                DATABASE_URL=f"sqlite:///{database}",
                TOKENKIT_JWKS_URL=jwks_url,
                TOKENKIT_JWKS_CHECK_REVOCATION="1",
                TOKENKIT_AUDIENCE=audience,
                **claims,
            )
            manage(env, "migrate", "--no-input")
            verifiers.append(env)
        with running_servers(
            verifiers[0], workdir / "verifiers", count=2, workers=2, per_server=[{}, verifiers[1]]
        ) as (verifier, elsewhere):
            yield issuer, verifier, elsewhere


def test_e2e_jwks_served_by_issuer_lists_both_public_keys(
    deployment: tuple[Server, Server, Server],
) -> None:
    issuer, _, _ = deployment

    response = requests.get(issuer.url("/api/auth/.well-known/jwks.json"), timeout=HTTP_TIMEOUT)

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "public, max-age=3600"
    published = response.json()["keys"]
    assert [(jwk["alg"], jwk["use"]) for jwk in published] == [("ES256", "sig")] * 2
    assert all("d" not in jwk for jwk in published)


def test_e2e_verifier_accepts_issuer_token_and_refuses_it_once_revoked(
    deployment: tuple[Server, Server, Server],
) -> None:
    issuer, verifier, _ = deployment
    pair = issuer.login("demo", "demo-password")
    assert jwt.get_unverified_header(pair["access"])["alg"] == "ES256"

    before = verifier.me(pair["access"])
    logout = requests.post(
        issuer.url("/api/auth/logout/"),
        json={"refresh": pair["refresh"]},
        headers=bearer(pair["access"]),
        timeout=HTTP_TIMEOUT,
    )
    after = verifier.me(pair["access"])

    assert before.status_code == 200, before.text
    assert logout.status_code == 204
    assert (after.status_code, after.json()["code"]) == (401, "token_revoked")


def test_e2e_verifier_expecting_another_audience_refuses(
    deployment: tuple[Server, Server, Server],
) -> None:
    issuer, _, elsewhere = deployment
    pair = issuer.login("demo", "demo-password")

    response = elsewhere.me(pair["access"])

    assert (response.status_code, response.json()["code"]) == (401, "token_invalid")


def test_e2e_verifier_refuses_a_token_it_could_only_check_with_a_secret(
    deployment: tuple[Server, Server, Server],
) -> None:
    _, verifier, _ = deployment
    forged = jwt.encode(
        {"sub": "1", "iss": ISSUER, "aud": AUDIENCE},
        "a secret the verifier never had, long enough",
        algorithm="HS256",
        headers={"typ": "at+jwt"},
    )

    response = verifier.me(forged)

    assert (response.status_code, response.json()["code"]) == (401, "token_invalid")
