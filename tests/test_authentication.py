"""JWTAuthentication on a protected view, ``/api/whoami/``."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from rest_framework.request import Request
from rest_framework.test import APIClient, APIRequestFactory

from django_tokenkit import services, tokens
from django_tokenkit.authentication import (
    JWTAuthentication,
    bearer_challenge,
    credentials_from_header,
    remember_auth_error,
)
from django_tokenkit.exceptions import AuthenticationError, TokenInvalid
from django_tokenkit.models import RevokeReason
from tests.helpers import WHOAMI_URL, assert_unauthorized, login

REFRESH_URL = "/api/auth/token/refresh/"
LOGOUT_URL = "/api/auth/logout/"

#: RFC 7235 section 2.1 / RFC 6750 section 3: auth-params with quoted-string values.
CHALLENGE = re.compile(
    r'Bearer realm="[^"\\]*"'
    r'(, error="invalid_token", error_description="[\x20\x21\x23-\x5b\x5d-\x7e]*")?'
)


def whoami(client: APIClient, header: str | None) -> Any:
    extra: dict[str, Any] = {} if header is None else {"HTTP_AUTHORIZATION": header}
    return client.get(WHOAMI_URL, **extra)


def drf_request(header: str | None) -> Request:
    extra: dict[str, Any] = {} if header is None else {"HTTP_AUTHORIZATION": header}
    return Request(APIRequestFactory().get(WHOAMI_URL, **extra))


def b64(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def with_payload(raw: str, **changes: Any) -> str:
    """``raw`` with its payload changed and its signature kept."""
    header, payload, signature = raw.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return f"{header}.{b64({**claims, **changes})}.{signature}"


def unsigned(raw: str) -> str:
    """``raw`` re-headed with ``alg: none`` and no signature."""
    _, payload, _ = raw.split(".")
    return f"{b64({'alg': 'none', 'typ': 'at+jwt'})}.{payload}."


def flip_signature(raw: str) -> str:
    head, _, signature = raw.rpartition(".")
    replacement = "A" if signature[0] != "A" else "B"
    return f"{head}.{replacement}{signature[1:]}"


@pytest.fixture
def access(pair: dict[str, Any]) -> str:
    return str(pair["access"])


def test_authenticate_valid_token_returns_200_with_claims(
    api_client: APIClient, user: Any, access: str
) -> None:
    response = whoami(api_client, f"Bearer {access}")

    assert response.status_code == 200
    body = response.json()
    assert body["username"] == "alice"
    assert body["claims"]["sub"] == str(user.pk)
    assert body["claims"]["token_type"] == "access"
    assert body["claims"] == dict(tokens.decode(access, tokens.ACCESS).claims)


def test_authenticate_valid_token_sets_user_and_token(user: Any, access: str) -> None:
    result = JWTAuthentication().authenticate(drf_request(f"Bearer {access}"))

    assert result is not None
    authenticated, token = result
    assert authenticated == user
    assert isinstance(token, tokens.Token)
    assert token.token_type == tokens.ACCESS
    assert token.jti == tokens.decode(access, tokens.ACCESS).jti


def test_authenticate_warm_cache_needs_at_most_the_user_query(
    api_client: APIClient, access: str, django_assert_max_num_queries: Any
) -> None:
    assert whoami(api_client, f"Bearer {access}").status_code == 200

    with django_assert_max_num_queries(1):
        assert whoami(api_client, f"Bearer {access}").status_code == 200


def test_authenticate_no_header_returns_401_not_authenticated(api_client: APIClient) -> None:
    assert_unauthorized(whoami(api_client, None), "not_authenticated", token_presented=False)


@pytest.mark.parametrize(
    "header",
    [
        "Basic YWxpY2U6c2VjcmV0",
        "Digest username=alice",
        "Bearertoken",
        "",
        "   ",
    ],
)
def test_authenticate_other_scheme_or_api_token_is_not_handled(
    api_client: APIClient, db: Any, header: str
) -> None:
    assert JWTAuthentication().authenticate(drf_request(header)) is None
    assert_unauthorized(whoami(api_client, header), "not_authenticated", token_presented=False)


@pytest.mark.parametrize("header", ["Token tkp_abcdef", "Bearer tkp_abcdef"])
def test_authenticate_api_token_is_left_to_the_api_token_class(
    api_client: APIClient, db: Any, header: str
) -> None:
    assert JWTAuthentication().authenticate(drf_request(header)) is None
    # APITokenAuthentication (also configured) refuses it for its bad checksum.
    assert_unauthorized(whoami(api_client, header), "token_invalid")


@pytest.mark.parametrize(
    "header",
    ["Bearer", "Bearer ", "Bearer    ", "Bearer {access} {access}", "Bearer {access} extra"],
    ids=["bare", "trailing-space", "spaces", "two-tokens", "token-and-word"],
)
def test_authenticate_bearer_without_exactly_one_token_returns_401_token_invalid(
    api_client: APIClient, access: str, header: str
) -> None:
    assert_unauthorized(whoami(api_client, header.format(access=access)), "token_invalid")


@pytest.mark.parametrize(
    "template",
    ["bearer {access}", "BEARER {access}", "Bearer  {access}", " Bearer {access} "],
    ids=["lowercase", "uppercase", "double-space", "padded"],
)
def test_authenticate_scheme_is_case_insensitive_and_space_tolerant(
    api_client: APIClient, access: str, template: str
) -> None:
    assert whoami(api_client, template.format(access=access)).status_code == 200


def test_authenticate_custom_header_type_accepts_it_and_ignores_bearer(
    api_client: APIClient, access: str, settings: Any
) -> None:
    settings.TOKENKIT = {**settings.TOKENKIT, "AUTH_HEADER_TYPES": ["JWT"]}

    assert whoami(api_client, f"JWT {access}").status_code == 200
    assert_unauthorized(
        whoami(api_client, f"Bearer {access}"), "not_authenticated", token_presented=False
    )


def test_authenticate_expired_token_returns_401_token_expired(
    api_client: APIClient, user: Any, time_machine: Any
) -> None:
    time_machine.move_to("2030-01-01T12:00:00+00:00", tick=False)
    access = login(api_client)["access"]
    time_machine.shift(timedelta(minutes=15, seconds=29))
    assert whoami(api_client, f"Bearer {access}").status_code == 200  # within the leeway

    time_machine.shift(2)

    assert_unauthorized(whoami(api_client, f"Bearer {access}"), "token_expired")


@pytest.mark.parametrize(
    "tamper",
    [
        flip_signature,
        lambda raw: with_payload(raw, sub="999"),
        lambda raw: with_payload(raw, exp=4102444800),
        unsigned,
        lambda raw: raw[:-10],
        lambda raw: raw.rsplit(".", 1)[0],
        lambda raw: raw + "." + raw,
        lambda raw: "x" * 5000,
        lambda raw: "a.b.c",
        lambda raw: "e30.e30.",
        lambda raw: f"{b64({'alg': 'HS256', 'typ': 'at+jwt', 'kid': 7})}.{raw.split('.')[1]}.x",
    ],
    ids=[
        "signature",
        "sub",
        "exp",
        "alg-none",
        "truncated",
        "no-signature",
        "doubled",
        "oversized",
        "three-junk-parts",
        "empty-objects",
        "kid-not-string",
    ],
)
def test_authenticate_tampered_token_returns_401_token_invalid(
    api_client: APIClient, access: str, tamper: Callable[[str], str]
) -> None:
    assert_unauthorized(whoami(api_client, f"Bearer {tamper(access)}"), "token_invalid")


def test_authenticate_token_of_other_algorithm_returns_401_token_invalid(
    api_client: APIClient, user: Any, settings: Any
) -> None:
    key = "k" * 64  # long enough for HS512
    settings.TOKENKIT = {**settings.TOKENKIT, "ALGORITHM": "HS512", "SIGNING_KEYS": [key]}
    hs512 = login(api_client)["access"]
    assert whoami(api_client, f"Bearer {hs512}").status_code == 200
    settings.TOKENKIT = {**settings.TOKENKIT, "ALGORITHM": "HS256"}

    assert_unauthorized(whoami(api_client, f"Bearer {hs512}"), "token_invalid")


def test_authenticate_refresh_token_as_bearer_returns_401_token_invalid(
    api_client: APIClient, pair: dict[str, Any]
) -> None:
    assert_unauthorized(whoami(api_client, f"Bearer {pair['refresh']}"), "token_invalid")


def test_authenticate_revoked_session_returns_401_token_revoked(
    api_client: APIClient, pair: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    assert whoami(api_client, f"Bearer {pair['access']}").status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(LOGOUT_URL, {"refresh": pair["refresh"]}, format="json")
    assert response.status_code == 204

    assert_unauthorized(whoami(api_client, f"Bearer {pair['access']}"), "token_revoked")


@pytest.mark.parametrize("warm", [True, False], ids=["cached-active", "cold-cache"])
def test_authenticate_deleted_user_returns_401_token_revoked(
    api_client: APIClient, user: Any, access: str, warm: bool
) -> None:
    if warm:
        assert whoami(api_client, f"Bearer {access}").status_code == 200

    user.delete()

    assert_unauthorized(whoami(api_client, f"Bearer {access}"), "token_revoked")


def test_authenticate_inactive_user_returns_401_token_revoked(
    api_client: APIClient, user: Any, access: str
) -> None:
    assert whoami(api_client, f"Bearer {access}").status_code == 200
    user.is_active = False
    user.save()

    assert_unauthorized(whoami(api_client, f"Bearer {access}"), "token_revoked")


def test_authenticate_single_revoked_token_spares_its_sibling(
    api_client: APIClient, pair: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    sibling = api_client.post(REFRESH_URL, {"refresh": pair["refresh"]}, format="json").json()
    first = tokens.decode(pair["access"], tokens.ACCESS)
    assert tokens.decode(sibling["access"], tokens.ACCESS).sid == first.sid
    for raw in (pair["access"], sibling["access"]):
        assert whoami(api_client, f"Bearer {raw}").status_code == 200  # cached as active

    with django_capture_on_commit_callbacks(execute=True):
        assert services.revoke_token(first, RevokeReason.ADMIN) is True

    assert_unauthorized(whoami(api_client, f"Bearer {pair['access']}"), "token_revoked")
    assert whoami(api_client, f"Bearer {sibling['access']}").status_code == 200
    assert (
        api_client.post(REFRESH_URL, {"refresh": sibling["refresh"]}, format="json").status_code
        == 200
    )


@pytest.mark.parametrize(
    "header",
    [
        "Bearer токен",
        "Bearer \u00d1\u0082\u00d0\u00be",  # UTF-8 bytes of "то" read as latin-1 (WSGI)
        "Bearer 🔑.🔑.🔑",
        "Bearer \x00",
        "Bearer a\tb",
        "Токен abc",
        "Bearer\u00a0abc",
        "Bearer \ud800",
    ],
    ids=["cyrillic", "mojibake", "emoji", "nul", "tab", "cyrillic-scheme", "nbsp", "surrogate"],
)
def test_authenticate_non_latin_header_never_500(
    api_client: APIClient, db: Any, header: str
) -> None:
    response = whoami(api_client, header)

    assert response.status_code == 401
    assert response.json()["code"] in {"token_invalid", "not_authenticated"}
    assert CHALLENGE.fullmatch(response["WWW-Authenticate"])


@pytest.mark.parametrize(
    "header",
    ["Bearer garbage", "Bearer", "Bearer a b", "Bearer " + "x" * 5000],
)
def test_authenticate_challenge_is_a_valid_rfc6750_header(
    api_client: APIClient, db: Any, header: str
) -> None:
    response = whoami(api_client, header)

    assert CHALLENGE.fullmatch(response["WWW-Authenticate"]), response["WWW-Authenticate"]


@pytest.mark.parametrize(
    "message",
    ['Token "quoted" is bad.', "Back\\slash", 'both \\" and\nnewline\r\x7f', "ünïcödé ok"],
)
def test_bearer_challenge_description_has_no_quotes_or_backslashes(
    message: str, settings: Any
) -> None:
    settings.TOKENKIT = {**settings.TOKENKIT, "WWW_AUTHENTICATE_REALM": 'a"pi\\'}
    request = drf_request(None)
    remember_auth_error(request, AuthenticationError(message, "token_invalid"))

    challenge = bearer_challenge(request)

    assert challenge.startswith('Bearer realm="api", error="invalid_token", error_description="')
    description = challenge.split('error_description="', 1)[1]
    assert description.endswith('"')
    assert '"' not in description[:-1]
    assert "\\" not in description
    assert "\n" not in description
    assert "\r" not in description


def test_bearer_challenge_without_presented_token_has_no_error(db: Any) -> None:
    request = drf_request(None)
    remember_auth_error(
        request, AuthenticationError("missing", "not_authenticated", token_presented=False)
    )

    assert bearer_challenge(request) == 'Bearer realm="api"'


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Bearer abc", "abc"),
        ("bearer abc", "abc"),
        ("  Bearer   abc  ", "abc"),
        ("Basic abc", None),
        ("Bearerabc", None),
        ("Token abc", None),
    ],
)
def test_credentials_from_header_returns_credentials_or_none(
    header: str, expected: str | None
) -> None:
    assert credentials_from_header(header) == expected


@pytest.mark.parametrize("header", ["Bearer", "Bearer  ", "Bearer a b"])
def test_credentials_from_header_malformed_raises_token_invalid(header: str) -> None:
    with pytest.raises(TokenInvalid):
        credentials_from_header(header)
