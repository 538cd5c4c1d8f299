"""Encoding and decoding of tokens (SPEC section 4): claims, headers, refusals.

Tokens an attacker could send are forged here with PyJWT directly, or signed
by hand where PyJWT refuses to produce them (an HMAC over a PEM public key).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from django_tokenkit import services, tokens
from django_tokenkit.exceptions import TokenError, TokenExpired, TokenInvalid
from django_tokenkit.tokens import Token
from tests.helpers import FROZEN_AT

NOW = FROZEN_AT
TS = int(NOW.timestamp())
ACCESS_LIFETIME = timedelta(minutes=15)

KEY_A = "key-a-0123456789abcdefghijklmnopqrstuvwxyz"
KEY_B = "key-b-0123456789abcdefghijklmnopqrstuvwxyz"
KEY_OTHER = "key-other-0123456789abcdefghijklmnopqrstuvwxyz"
ISSUER = "https://issuer.example"
AUDIENCE = "https://api.example"

TYP = {"access": "at+jwt", "refresh": "refresh+jwt"}
MISSING: Any = object()
#: 9999-12-31T23:59:59Z, the last second a datetime can hold.
LAST_SECOND_OF_9999 = 253402300799


# Helpers ---------------------------------------------------------------------


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def segment(value: Any) -> str:
    return b64(json.dumps(value).encode())


def payload(kind: str = "access", /, **overrides: Any) -> dict[str, Any]:
    """A valid claim set at NOW; an override of MISSING removes the claim."""
    claims: dict[str, Any] = {
        "sub": "42",
        "jti": "jti-1",
        "iat": TS,
        "exp": TS + int(ACCESS_LIFETIME.total_seconds()),
        "sid": "sid-1",
        "auth_time": TS - 3600,
        "token_type": kind,
    }
    for name, value in overrides.items():
        if value is MISSING:
            claims.pop(name, None)
        else:
            claims[name] = value
    return claims


def forge(
    claims: dict[str, Any],
    *,
    key: str | None = None,
    algorithm: str = "HS256",
    typ: str | None = "at+jwt",
    **headers: Any,
) -> str:
    """Sign ``claims`` with PyJWT (default: the test settings' SECRET_KEY)."""
    all_headers: dict[str, Any] = dict(headers)
    if typ is not None:
        all_headers["typ"] = typ
    return jwt.encode(
        claims,
        django_settings.SECRET_KEY if key is None else key,
        algorithm=algorithm,
        headers=all_headers,
    )


def sign_by_hand(header: Any, claims: Any, key: str | bytes, digest: Any = hashlib.sha256) -> str:
    """An HMAC-signed JWS built without PyJWT's safety checks."""
    signing_input = f"{segment(header)}.{segment(claims)}"
    secret = key.encode() if isinstance(key, str) else key
    signature = hmac.new(secret, signing_input.encode(), digest).digest()
    return f"{signing_input}.{b64(signature)}"


def issue(token_type: tokens.TokenType = "access", **kwargs: Any) -> str:
    raw, _ = tokens.encode(
        token_type,
        sub=kwargs.pop("sub", "42"),
        sid=kwargs.pop("sid", "sid-1"),
        auth_time=kwargs.pop("auth_time", NOW - timedelta(hours=1)),
        expires_at=kwargs.pop("expires_at", NOW + ACCESS_LIFETIME),
        **kwargs,
    )
    return raw


@pytest.fixture
def iss_aud(settings: Any) -> None:
    settings.TOKENKIT = {"ISSUER": ISSUER, "AUDIENCE": AUDIENCE}


@pytest.fixture(scope="module")
def rsa_private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def public_pem(rsa_private_key: rsa.RSAPrivateKey) -> str:
    return (
        rsa_private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


# Round trip ------------------------------------------------------------------


@pytest.mark.parametrize("token_type", ["access", "refresh"])
def test_encode_decode_round_trip_keeps_every_claim(frozen: Any, token_type: Any) -> None:
    raw, issued = tokens.encode(
        token_type,
        sub="42",
        sid="sid-1",
        auth_time=NOW - timedelta(hours=1),
        expires_at=NOW + ACCESS_LIFETIME,
        jti="jti-1",
    )

    decoded = tokens.decode(raw, token_type)

    expected = {
        "sub": "42",
        "jti": "jti-1",
        "iat": TS,
        "exp": TS + 900,
        "sid": "sid-1",
        "auth_time": TS - 3600,
        "token_type": token_type,
    }
    assert dict(decoded.claims) == expected
    assert dict(issued.claims) == expected
    assert decoded.token_type == token_type
    assert (decoded.sub, decoded.jti, decoded.sid) == ("42", "jti-1", "sid-1")
    assert decoded.kid is None


@pytest.mark.parametrize("token_type", ["access", "refresh"])
def test_encode_with_issuer_and_audience_round_trip_carries_iss_and_aud(
    frozen: Any, iss_aud: None, token_type: Any
) -> None:
    raw = issue(token_type)

    decoded = tokens.decode(raw, token_type)

    assert decoded["iss"] == ISSUER
    assert decoded["aud"] == AUDIENCE


def test_encode_without_issuer_or_audience_omits_iss_and_aud(frozen: Any) -> None:
    claims = jwt.decode(issue(), options={"verify_signature": False})

    assert "iss" not in claims
    assert "aud" not in claims


def test_encode_without_jti_or_now_uses_fresh_jti_and_current_time(frozen: Any) -> None:
    first, second = issue(), issue()

    decoded_first = tokens.decode(first, "access")
    decoded_second = tokens.decode(second, "access")

    assert decoded_first.jti != decoded_second.jti
    assert len(decoded_first.jti) >= 16
    assert decoded_first["iat"] == TS


def test_encode_with_explicit_now_sets_iat(frozen: Any) -> None:
    raw = issue(now=NOW - timedelta(seconds=10))

    assert tokens.decode(raw, "access")["iat"] == TS - 10


@pytest.mark.parametrize(("token_type", "typ"), [("access", "at+jwt"), ("refresh", "refresh+jwt")])
def test_encode_header_typ_differs_by_token_type(frozen: Any, token_type: Any, typ: str) -> None:
    header = jwt.get_unverified_header(issue(token_type))

    assert header["typ"] == typ
    assert header["alg"] == "HS256"


def test_encode_key_without_kid_omits_kid_header(frozen: Any, settings: Any) -> None:
    settings.TOKENKIT = {"SIGNING_KEYS": [KEY_A]}

    header = jwt.get_unverified_header(issue())

    assert "kid" not in header


def test_encode_key_with_kid_sets_kid_header(frozen: Any, settings: Any) -> None:
    settings.TOKENKIT = {"SIGNING_KEYS": [{"kid": "2030-01", "key": KEY_A}]}
    raw, issued = tokens.encode(
        "access", sub="42", sid="s", auth_time=NOW, expires_at=NOW + ACCESS_LIFETIME
    )

    assert jwt.get_unverified_header(raw)["kid"] == "2030-01"
    assert issued.kid == "2030-01"
    assert tokens.decode(raw, "access").kid == "2030-01"


# One kind can never pass for the other ---------------------------------------


@pytest.mark.parametrize(
    ("issued_as", "presented_as"), [("access", "refresh"), ("refresh", "access")]
)
def test_decode_genuine_token_of_other_type_is_invalid(
    frozen: Any, issued_as: Any, presented_as: Any
) -> None:
    raw = issue(issued_as)

    with pytest.raises(TokenInvalid):
        tokens.decode(raw, presented_as)


@pytest.mark.parametrize(
    ("claim_type", "presented_as"), [("access", "refresh"), ("refresh", "access")]
)
def test_decode_right_typ_header_but_other_token_type_claim_is_invalid(
    frozen: Any, claim_type: str, presented_as: Any
) -> None:
    raw = forge(payload(claim_type), typ=TYP[presented_as])

    with pytest.raises(TokenInvalid):
        tokens.decode(raw, presented_as)


# typ=None lets PyJWT write its default "JWT"; typ="" makes it leave typ out.
@pytest.mark.parametrize("typ", [None, "", "jwt", "at+jwt ", "refresh+jwt"])
def test_decode_access_with_wrong_typ_header_is_invalid(frozen: Any, typ: str | None) -> None:
    raw = forge(payload("access"), typ=typ)

    with pytest.raises(TokenInvalid):
        tokens.decode(raw, "access")


@pytest.mark.parametrize("typ", [None, "", "at+jwt"])
def test_decode_refresh_with_wrong_typ_header_is_invalid(frozen: Any, typ: str | None) -> None:
    raw = forge(payload("refresh"), typ=typ)

    with pytest.raises(TokenInvalid):
        tokens.decode(raw, "refresh")


def test_decode_forged_token_with_right_typ_and_claim_is_accepted(frozen: Any) -> None:
    """The forging helper itself makes valid tokens: refusals below are meaningful."""
    raw = forge(payload("refresh"), typ="refresh+jwt")

    assert tokens.decode(raw, "refresh").jti == "jti-1"


# Expiry and leeway -------------------------------------------------------------


def test_decode_expired_beyond_leeway_raises_token_expired(frozen: Any, time_machine: Any) -> None:
    raw = issue()
    time_machine.move_to(NOW + ACCESS_LIFETIME + timedelta(seconds=31), tick=False)

    with pytest.raises(TokenExpired) as excinfo:
        tokens.decode(raw, "access")
    assert excinfo.value.code == "token_expired"


def test_decode_expired_within_leeway_is_accepted(frozen: Any, time_machine: Any) -> None:
    raw = issue()
    time_machine.move_to(NOW + ACCESS_LIFETIME + timedelta(seconds=29), tick=False)

    assert tokens.decode(raw, "access").sub == "42"


def test_decode_expired_with_zero_leeway_raises_token_expired(
    frozen: Any, time_machine: Any, settings: Any
) -> None:
    settings.TOKENKIT = {"LEEWAY": 0}
    raw = issue()
    time_machine.move_to(NOW + ACCESS_LIFETIME + timedelta(seconds=1), tick=False)

    with pytest.raises(TokenExpired):
        tokens.decode(raw, "access")


def test_decode_leeway_setting_widens_tolerance(
    frozen: Any, time_machine: Any, settings: Any
) -> None:
    settings.TOKENKIT = {"LEEWAY": timedelta(minutes=2)}
    raw = issue()
    time_machine.move_to(NOW + ACCESS_LIFETIME + timedelta(seconds=90), tick=False)

    assert tokens.decode(raw, "access").sub == "42"


def test_decode_iat_in_future_within_leeway_is_accepted(frozen: Any) -> None:
    raw = forge(payload(iat=TS + 20))

    assert tokens.decode(raw, "access")["iat"] == TS + 20


def test_decode_iat_in_future_beyond_leeway_is_invalid(frozen: Any) -> None:
    raw = forge(payload(iat=TS + 60))

    with pytest.raises(TokenInvalid) as excinfo:
        tokens.decode(raw, "access")
    assert excinfo.value.code == "token_invalid"


def test_decode_nbf_in_future_beyond_leeway_is_invalid(frozen: Any) -> None:
    raw = forge(payload(nbf=TS + 60))

    with pytest.raises(TokenInvalid):
        tokens.decode(raw, "access")


@pytest.mark.parametrize("offset", [-3600, 0, 20])
def test_decode_nbf_past_or_within_leeway_is_accepted(frozen: Any, offset: int) -> None:
    raw = forge(payload(nbf=TS + offset))

    assert tokens.decode(raw, "access")["nbf"] == TS + offset


# Claims ----------------------------------------------------------------------


@pytest.mark.parametrize("claim", ["sub", "jti", "iat", "exp", "sid", "auth_time", "token_type"])
def test_decode_missing_required_claim_is_invalid(frozen: Any, claim: str) -> None:
    raw = forge(payload(**{claim: MISSING}))

    with pytest.raises(TokenInvalid):
        tokens.decode(raw, "access")


def test_required_claims_are_the_spec_claims() -> None:
    assert set(tokens.REQUIRED_CLAIMS) == {
        "sub",
        "jti",
        "iat",
        "exp",
        "sid",
        "auth_time",
        "token_type",
    }


@pytest.mark.parametrize(
    ("claim", "value"),
    [
        ("sub", 42),
        ("sub", ""),
        ("sub", ["42"]),
        ("sub", "x" * 256),
        ("jti", ""),
        ("jti", 7),
        ("jti", {"id": "x"}),
        ("sid", ["sid-1"]),
        ("sid", ""),
        ("sid", 3),
        ("sid", "s" * 256),
        ("auth_time", str(TS)),
        ("auth_time", True),
        ("auth_time", float(TS)),
        ("auth_time", None),
        ("iat", str(TS)),
        ("iat", True),
        ("iat", TS + 0.5),
        ("iat", [TS]),
        ("exp", "tomorrow"),
        ("exp", TS + 900.5),
        ("exp", None),
        ("token_type", "ACCESS"),
        ("token_type", ["access"]),
        ("token_type", "refresh"),
        ("nbf", "soon"),
    ],
)
def test_decode_claim_of_wrong_type_is_invalid(frozen: Any, claim: str, value: Any) -> None:
    raw = forge(payload(**{claim: value}))

    with pytest.raises(TokenInvalid):
        tokens.decode(raw, "access")


@pytest.mark.parametrize("claim", ["iat", "exp", "nbf", "auth_time"])
@pytest.mark.parametrize("value", [10**30, 253402300800, 2**63])
def test_decode_numeric_date_beyond_year_9999_is_invalid(
    frozen: Any, claim: str, value: int
) -> None:
    """No datetime can hold it, so nothing computed from the token could be either."""
    raw = forge(payload(**{claim: value}))

    with pytest.raises(TokenInvalid):
        tokens.decode(raw, "access")


@pytest.mark.parametrize("claim", ["iat", "nbf", "auth_time"])
@pytest.mark.parametrize("value", [-1, -(10**30)])
def test_decode_numeric_date_before_1970_is_invalid(frozen: Any, claim: str, value: int) -> None:
    """(A negative ``exp`` is simply long expired: ``token_expired``.)"""
    with pytest.raises(TokenInvalid):
        tokens.decode(forge(payload(**{claim: value})), "access")


def test_decode_numeric_dates_at_the_edges_of_the_range_are_accepted(frozen: Any) -> None:
    token = tokens.decode(forge(payload(exp=LAST_SECOND_OF_9999, auth_time=0, nbf=0)), "access")

    assert token.expires_at == datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone.utc)
    assert token.auth_time == datetime(1970, 1, 1, tzinfo=timezone.utc)
    assert token.lifetime_left() > timedelta(0)


def test_decode_auth_time_after_iat_is_invalid(frozen: Any) -> None:
    """No token of a login is issued before the login: tokenkit signs auth_time <= iat."""
    with pytest.raises(TokenInvalid):
        tokens.decode(forge(payload(auth_time=TS + 1)), "access")


@pytest.mark.parametrize(
    ("claim", "value"),
    [
        ("iss", "https://evil.example"),
        ("iss", ISSUER + "/"),
        ("iss", [ISSUER]),
        ("iss", MISSING),
        ("aud", "https://other.example"),
        ("aud", AUDIENCE.upper()),
        ("aud", [AUDIENCE]),
        ("aud", [AUDIENCE, "https://other.example"]),
        ("aud", MISSING),
    ],
)
def test_decode_issuer_or_audience_mismatch_is_invalid(
    frozen: Any, iss_aud: None, claim: str, value: Any
) -> None:
    claims = payload(**{"iss": ISSUER, "aud": AUDIENCE, claim: value})
    # By hand: PyJWT will not write a list "iss".
    raw = sign_by_hand({"alg": "HS256", "typ": "at+jwt"}, claims, django_settings.SECRET_KEY)

    with pytest.raises(TokenInvalid):
        tokens.decode(raw, "access")


def test_decode_exact_issuer_and_audience_is_accepted(frozen: Any, iss_aud: None) -> None:
    raw = forge(payload(iss=ISSUER, aud=AUDIENCE))

    assert tokens.decode(raw, "access")["aud"] == AUDIENCE


@pytest.mark.parametrize("aud", [AUDIENCE, [AUDIENCE]])
def test_decode_audience_when_none_configured_is_invalid(frozen: Any, aud: Any) -> None:
    raw = forge(payload(aud=aud))

    with pytest.raises(TokenInvalid):
        tokens.decode(raw, "access")


def test_decode_token_from_before_issuer_was_configured_is_invalid(
    frozen: Any, settings: Any
) -> None:
    raw = issue()
    settings.TOKENKIT = {"ISSUER": ISSUER}

    with pytest.raises(TokenInvalid):
        tokens.decode(raw, "access")


# Algorithms and signatures ----------------------------------------------------


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
@pytest.mark.parametrize("signature", ["", "c2ln"])
def test_decode_alg_none_is_invalid(frozen: Any, alg: str, signature: str) -> None:
    header = segment({"alg": alg, "typ": "at+jwt"})
    raw = f"{header}.{segment(payload())}.{signature}"

    with pytest.raises(TokenInvalid):
        tokens.decode(raw, "access")


def test_decode_pyjwt_unsecured_token_is_invalid(frozen: Any) -> None:
    raw = jwt.encode(payload(), "", algorithm="none", headers={"typ": "at+jwt"})

    with pytest.raises(TokenInvalid):
        tokens.decode(raw, "access")


@pytest.mark.parametrize(("alg", "digest"), [("HS384", hashlib.sha384), ("HS512", hashlib.sha512)])
def test_decode_other_hmac_algorithm_with_right_key_is_invalid(
    frozen: Any, alg: str, digest: Any
) -> None:
    header = {"alg": alg, "typ": "at+jwt"}
    raw = sign_by_hand(header, payload(), django_settings.SECRET_KEY, digest)

    with pytest.raises(TokenInvalid):
        tokens.decode(raw, "access")


def test_decode_hs256_token_when_hs512_configured_is_invalid(frozen: Any, settings: Any) -> None:
    key = "k" * 64
    settings.TOKENKIT = {"ALGORITHM": "HS512", "SIGNING_KEYS": [key]}

    assert tokens.decode(issue(), "access").sub == "42"
    with pytest.raises(TokenInvalid):
        tokens.decode(forge(payload(), key=key, algorithm="HS256"), "access")


@pytest.mark.parametrize(
    ("alg", "digest"),
    [("RS256", hashlib.sha256), ("ES256", hashlib.sha256), ("HS256", hashlib.sha256)],
)
def test_decode_hmac_signed_with_public_key_is_invalid(
    frozen: Any, public_pem: str, alg: str, digest: Any
) -> None:
    """Algorithm confusion: an HMAC whose secret is a public key someone could know."""
    raw = sign_by_hand({"alg": alg, "typ": "at+jwt"}, payload(), public_pem, digest)

    with pytest.raises(TokenInvalid):
        tokens.decode(raw, "access")


def test_decode_genuine_rs256_token_is_invalid_when_hmac_configured(
    frozen: Any, rsa_private_key: rsa.RSAPrivateKey
) -> None:
    pem = rsa_private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    raw = jwt.encode(payload(), pem, algorithm="RS256", headers={"typ": "at+jwt"})

    with pytest.raises(TokenInvalid):
        tokens.decode(raw, "access")


def test_decode_hand_signed_with_configured_key_is_accepted(frozen: Any) -> None:
    """Control for the hand-signing helper: a correct HMAC verifies."""
    raw = sign_by_hand({"alg": "HS256", "typ": "at+jwt"}, payload(), django_settings.SECRET_KEY)

    assert tokens.decode(raw, "access").sub == "42"


def test_decode_tampered_payload_keeping_signature_is_invalid(frozen: Any) -> None:
    header, body, signature = issue().split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    claims["sub"] = "1"

    with pytest.raises(TokenInvalid):
        tokens.decode(f"{header}.{segment(claims)}.{signature}", "access")


def test_decode_tampered_header_keeping_signature_is_invalid(frozen: Any) -> None:
    _, body, signature = issue("access").split(".")
    header = segment({"alg": "HS256", "typ": "refresh+jwt"})

    with pytest.raises(TokenInvalid):
        tokens.decode(f"{header}.{body}.{signature}", "refresh")


def test_decode_signature_of_another_token_is_invalid(frozen: Any) -> None:
    header, body, _ = issue(sub="42").split(".")
    other_signature = issue(sub="43").split(".")[2]

    with pytest.raises(TokenInvalid):
        tokens.decode(f"{header}.{body}.{other_signature}", "access")


def test_decode_signature_from_another_key_is_invalid(frozen: Any) -> None:
    raw = forge(payload(), key=KEY_OTHER)

    with pytest.raises(TokenInvalid):
        tokens.decode(raw, "access")


# Malformed input ---------------------------------------------------------------


MANGLE = {
    "empty": lambda raw: "",
    "whitespace": lambda raw: "   ",
    "truncated_signature": lambda raw: raw[:-3],
    "two_segments": lambda raw: raw.rsplit(".", 1)[0],
    "empty_signature": lambda raw: raw.rsplit(".", 1)[0] + ".",
    "one_segment": lambda raw: raw.split(".")[0],
    "extra_segment": lambda raw: raw + ".AAAA",
    "extra_dot": lambda raw: raw + ".",
    "jwe_shape": lambda raw: raw + ".a.b",
    "only_dots": lambda raw: "..",
    "garbage_segments": lambda raw: "a.b.c",
    "non_ascii_in_payload": lambda raw: raw[:40] + "é" + raw[41:],
    "non_ascii_suffix": lambda raw: raw + "\u2603",
    "scheme_prefix": lambda raw: "Bearer " + raw,
    "space_inside": lambda raw: raw[:20] + " " + raw[20:],
    "null_byte": lambda raw: raw[:20] + "\x00" + raw[20:],
}


@pytest.mark.parametrize("mangle", MANGLE.values(), ids=MANGLE.keys())
def test_decode_malformed_string_is_invalid(frozen: Any, mangle: Any) -> None:
    raw = mangle(issue())

    with pytest.raises(TokenInvalid):
        tokens.decode(raw, "access")


@pytest.mark.parametrize("value", [None, 0, 42, 1.5, b"a.b.c", ["a.b.c"], {"token": "a.b.c"}])
def test_decode_non_string_input_is_invalid(frozen: Any, value: Any) -> None:
    with pytest.raises(TokenInvalid):
        tokens.decode(value, "access")


def test_decode_bytes_of_genuine_token_is_invalid(frozen: Any) -> None:
    with pytest.raises(TokenInvalid):
        tokens.decode(issue().encode(), "access")


def test_decode_oversized_garbage_is_invalid(frozen: Any) -> None:
    with pytest.raises(TokenInvalid):
        tokens.decode("a." + "b" * 4096 + ".c", "access")


def test_decode_genuine_token_over_max_length_is_invalid(frozen: Any, settings: Any) -> None:
    raw = issue()
    settings.TOKENKIT = {"MAX_TOKEN_LENGTH": len(raw)}
    assert tokens.decode(raw, "access").sub == "42"

    settings.TOKENKIT = {"MAX_TOKEN_LENGTH": len(raw) - 1}
    with pytest.raises(TokenInvalid):
        tokens.decode(raw, "access")


def test_decode_header_that_is_not_json_object_is_invalid(frozen: Any) -> None:
    for header in (b64(b"not json"), segment(["alg", "HS256"]), segment("HS256"), segment(None)):
        with pytest.raises(TokenInvalid):
            tokens.decode(f"{header}.{segment(payload())}.c2ln", "access")


def test_decode_payload_that_is_not_json_object_is_invalid(frozen: Any) -> None:
    header = {"alg": "HS256", "typ": "at+jwt"}
    for claims in (["sub", "42"], "42", 42, None):
        raw = sign_by_hand(header, claims, django_settings.SECRET_KEY)
        with pytest.raises(TokenInvalid):
            tokens.decode(raw, "access")


def test_decode_deeply_nested_json_is_invalid(frozen: Any) -> None:
    nested = b"[" * 1500 + b"]" * 1500
    header = segment({"alg": "HS256", "typ": "at+jwt"})
    signing_input = f"{header}.{b64(nested)}"
    signature = hmac.new(
        django_settings.SECRET_KEY.encode(), signing_input.encode(), hashlib.sha256
    ).digest()

    for raw in (f"{b64(nested)}.{segment(payload())}.c2ln", f"{signing_input}.{b64(signature)}"):
        with pytest.raises(TokenInvalid):
            tokens.decode(raw, "access")


# Keys: rotation and kid ---------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (KEY_A, KEY_B),
        ({"kid": "old", "key": KEY_A}, {"kid": "new", "key": KEY_B}),
    ],
    ids=["without_kid", "with_kid"],
)
def test_decode_after_rotation_old_key_verifies_until_removed(
    frozen: Any, settings: Any, old: Any, new: Any
) -> None:
    settings.TOKENKIT = {"SIGNING_KEYS": [old]}
    old_token = issue()

    settings.TOKENKIT = {"SIGNING_KEYS": [new, old]}
    assert tokens.decode(old_token, "access").sub == "42"
    new_token = issue()

    settings.TOKENKIT = {"SIGNING_KEYS": [new]}
    assert tokens.decode(new_token, "access").sub == "42"
    with pytest.raises(TokenInvalid):
        tokens.decode(old_token, "access")


def test_encode_after_rotation_signs_with_first_key(frozen: Any, settings: Any) -> None:
    settings.TOKENKIT = {"SIGNING_KEYS": [KEY_B, KEY_A]}
    raw = issue()

    jwt.decode(raw, KEY_B, algorithms=["HS256"], options={"verify_exp": False})
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(raw, KEY_A, algorithms=["HS256"], options={"verify_exp": False})


KID_KEYS = [{"kid": "k1", "key": KEY_A}, {"kid": "k2", "key": KEY_B}]


def test_decode_kid_selects_its_key(frozen: Any, settings: Any) -> None:
    settings.TOKENKIT = {"SIGNING_KEYS": KID_KEYS}

    decoded = tokens.decode(forge(payload(), key=KEY_B, kid="k2"), "access")

    assert decoded.kid == "k2"


def test_decode_kid_naming_other_known_key_is_invalid(frozen: Any, settings: Any) -> None:
    """Signed by k2's key but claiming k1: only k1's key may verify it."""
    settings.TOKENKIT = {"SIGNING_KEYS": KID_KEYS}

    with pytest.raises(TokenInvalid):
        tokens.decode(forge(payload(), key=KEY_B, kid="k1"), "access")


@pytest.mark.parametrize("kid", ["k3", "K1", "", "k1 "])
def test_decode_unknown_kid_is_invalid(frozen: Any, settings: Any, kid: str) -> None:
    settings.TOKENKIT = {"SIGNING_KEYS": KID_KEYS}

    with pytest.raises(TokenInvalid):
        tokens.decode(forge(payload(), key=KEY_A, kid=kid), "access")


@pytest.mark.parametrize("kid", [1, ["k1"], {"kid": "k1"}, True])
def test_decode_non_string_kid_is_invalid(frozen: Any, settings: Any, kid: Any) -> None:
    settings.TOKENKIT = {"SIGNING_KEYS": KID_KEYS}

    # PyJWT will not write a non-string kid, so the token is signed by hand.
    raw = sign_by_hand({"alg": "HS256", "typ": "at+jwt", "kid": kid}, payload(), KEY_A)

    with pytest.raises(TokenInvalid):
        tokens.decode(raw, "access")


def test_decode_kid_when_keys_have_no_ids_is_invalid(frozen: Any, settings: Any) -> None:
    settings.TOKENKIT = {"SIGNING_KEYS": [KEY_A, KEY_B]}

    with pytest.raises(TokenInvalid):
        tokens.decode(forge(payload(), key=KEY_A, kid="k1"), "access")


@pytest.mark.parametrize("key", [KEY_A, KEY_B])
def test_decode_token_without_kid_is_tried_against_every_key(
    frozen: Any, settings: Any, key: str
) -> None:
    settings.TOKENKIT = {"SIGNING_KEYS": KID_KEYS}

    decoded = tokens.decode(forge(payload(), key=key), "access")

    assert decoded.sub == "42"
    assert decoded.kid is None


def test_decode_token_without_kid_from_unknown_key_is_invalid(frozen: Any, settings: Any) -> None:
    settings.TOKENKIT = {"SIGNING_KEYS": KID_KEYS}

    with pytest.raises(TokenInvalid):
        tokens.decode(forge(payload(), key=KEY_OTHER), "access")


# verify_exp=False (logout) -------------------------------------------------------


def test_decode_without_exp_check_accepts_expired_genuine_token(
    frozen: Any, time_machine: Any
) -> None:
    raw = issue("refresh", jti="old-refresh")
    time_machine.move_to(NOW + timedelta(days=30), tick=False)

    with pytest.raises(TokenExpired):
        tokens.decode(raw, "refresh")
    assert tokens.decode(raw, "refresh", verify_exp=False).jti == "old-refresh"


@pytest.mark.parametrize(
    "make",
    [
        lambda: forge(payload("refresh"), key=KEY_OTHER, typ="refresh+jwt"),
        lambda: forge(payload("access"), typ="at+jwt"),
        lambda: forge(payload("refresh", exp=MISSING), typ="refresh+jwt"),
        lambda: jwt.encode(
            payload("refresh"), "", algorithm="none", headers={"typ": "refresh+jwt"}
        ),
    ],
    ids=["other_key", "access_token", "no_exp", "alg_none"],
)
def test_decode_without_exp_check_still_refuses_forged_token(
    frozen: Any, time_machine: Any, make: Any
) -> None:
    raw = make()
    time_machine.move_to(NOW + timedelta(days=30), tick=False)

    with pytest.raises(TokenInvalid):
        tokens.decode(raw, "refresh", verify_exp=False)


# Remembered verifications ----------------------------------------------------------


@pytest.fixture
def pyjwt_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record each token PyJWT is asked to verify (PyJWT still does the work)."""
    calls: list[str] = []
    real_decode = jwt.decode

    def counting_decode(raw: str, *args: Any, **kwargs: Any) -> Any:
        calls.append(raw)
        return real_decode(raw, *args, **kwargs)

    monkeypatch.setattr("django_tokenkit.tokens.jwt.decode", counting_decode)
    return calls


def test_decode_same_token_again_is_not_verified_again(frozen: Any, pyjwt_calls: list[str]) -> None:
    raw = issue(jti="again")

    first = tokens.decode(raw, "access")
    second = tokens.decode(raw, "access")

    assert pyjwt_calls == [raw]
    assert second.claims == first.claims
    assert second.kid == first.kid


def test_decode_remembered_token_still_expires_with_the_clock(
    frozen: Any, time_machine: Any
) -> None:
    raw = issue()
    tokens.decode(raw, "access")

    time_machine.move_to(NOW + ACCESS_LIFETIME + timedelta(seconds=29), tick=False)
    assert tokens.decode(raw, "access").sub == "42"
    time_machine.move_to(NOW + ACCESS_LIFETIME + timedelta(seconds=30), tick=False)
    with pytest.raises(TokenExpired):
        tokens.decode(raw, "access")


def test_decode_remembered_token_follows_a_leeway_change(
    frozen: Any, time_machine: Any, settings: Any
) -> None:
    raw = issue()
    tokens.decode(raw, "access")
    time_machine.move_to(NOW + ACCESS_LIFETIME + timedelta(seconds=10), tick=False)

    settings.TOKENKIT = {"LEEWAY": 0}

    with pytest.raises(TokenExpired):
        tokens.decode(raw, "access")


def test_decode_remembered_access_token_does_not_pass_as_refresh(frozen: Any) -> None:
    raw = issue("access")
    tokens.decode(raw, "access")

    with pytest.raises(TokenInvalid):
        tokens.decode(raw, "refresh")


def test_decode_remembered_token_is_refused_after_secret_key_change(
    frozen: Any, settings: Any
) -> None:
    raw = issue()
    tokens.decode(raw, "access")

    settings.SECRET_KEY = KEY_OTHER

    with pytest.raises(TokenInvalid):
        tokens.decode(raw, "access")


def test_decode_refused_token_is_verified_again_every_time(
    frozen: Any, pyjwt_calls: list[str]
) -> None:
    forged = forge(payload(), key=KEY_OTHER)

    for _ in range(2):
        with pytest.raises(TokenInvalid):
            tokens.decode(forged, "access")

    assert pyjwt_calls == [forged, forged]


def test_decode_returns_claims_a_caller_can_edit_without_touching_the_next_request(
    frozen: Any,
) -> None:
    raw = issue()
    first = tokens.decode(raw, "access")
    first.claims["sub"] = "someone-else"  # type: ignore[index]

    assert tokens.decode(raw, "access").sub == "42"


def test_decode_remembers_at_most_the_configured_number_of_tokens(
    frozen: Any, pyjwt_calls: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tokens, "VERIFIED_CACHE_SIZE", 3)
    raws = [issue(jti=f"bounded-{index}") for index in range(5)]
    for raw in raws:
        tokens.decode(raw, "access")
    pyjwt_calls.clear()

    for raw in raws[2:]:
        tokens.decode(raw, "access")
    assert pyjwt_calls == []  # the newest three are remembered
    tokens.decode(raws[0], "access")
    assert pyjwt_calls == [raws[0]]  # the oldest was forgotten


def test_decode_from_many_threads_with_a_small_memory_stays_correct(
    frozen: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tokens, "VERIFIED_CACHE_SIZE", 4)
    raws = [issue(jti=f"thread-{index}") for index in range(16)]
    barrier = threading.Barrier(8)
    failures: list[BaseException] = []

    def work(offset: int) -> None:
        barrier.wait()
        try:
            for round_ in range(200):
                index = (offset + round_) % len(raws)
                assert tokens.decode(raws[index], "access").jti == f"thread-{index}"
        except BaseException as error:  # reported below, with the thread's failure
            failures.append(error)

    threads = [threading.Thread(target=work, args=(offset,)) for offset in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    assert len(tokens._verified) <= 4


def test_decode_without_exp_check_never_reads_remembered_tokens(
    frozen: Any, pyjwt_calls: list[str]
) -> None:
    raw = issue("refresh")
    tokens.decode(raw, "refresh")

    tokens.decode(raw, "refresh", verify_exp=False)

    assert pyjwt_calls == [raw, raw]


# Token helpers ---------------------------------------------------------------


def test_token_times_are_aware_utc_datetimes(frozen: Any) -> None:
    token = tokens.decode(issue(auth_time=NOW - timedelta(hours=2)), "access")

    assert token.issued_at == NOW
    assert token.expires_at == NOW + ACCESS_LIFETIME
    assert token.auth_time == NOW - timedelta(hours=2)
    assert token.expires_at.tzinfo is not None


def test_token_lifetime_left_follows_the_clock(frozen: Any, time_machine: Any) -> None:
    token = tokens.decode(issue(), "access")
    assert token.lifetime_left() == ACCESS_LIFETIME

    time_machine.move_to(NOW + timedelta(minutes=10), tick=False)
    assert token.lifetime_left() == timedelta(minutes=5)

    time_machine.move_to(NOW + timedelta(minutes=20), tick=False)
    assert token.lifetime_left() == timedelta(minutes=-5)


def test_token_lifetime_left_with_explicit_now(frozen: Any) -> None:
    token = tokens.decode(issue(), "access")

    assert token.lifetime_left(NOW + timedelta(minutes=14)) == timedelta(minutes=1)


def test_token_item_access_and_get(frozen: Any) -> None:
    token = tokens.decode(issue(sid="sid-9"), "access")

    assert token["sid"] == "sid-9"
    assert token.get("nbf") is None
    assert token.get("nbf", 0) == 0
    assert isinstance(token, Token)


def test_token_repr_hides_claims(frozen: Any) -> None:
    token = tokens.decode(issue(sub="secret-subject"), "access")

    assert "secret-subject" not in repr(token)


# Property: only TokenError ever escapes ------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
claim_names = st.sampled_from(
    ["sub", "jti", "iat", "exp", "nbf", "sid", "auth_time", "token_type", "iss", "aud"]
)
header_names = st.sampled_from(["alg", "typ", "kid", "crit", "b64", "cty", "jku", "zip"])

PROPERTY_SETTINGS = hypothesis_settings(
    database=None,
    deadline=None,
    max_examples=200,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@PROPERTY_SETTINGS
@given(st.one_of(st.text(), st.text(alphabet="abcxyzAZ09-_.= é"), st.binary()))
def test_decode_arbitrary_text_raises_only_token_error(raw: Any) -> None:
    with pytest.raises(TokenError):
        tokens.decode(raw, "access")


@PROPERTY_SETTINGS
@given(
    header=json_values | st.dictionaries(header_names, json_values),
    claims=json_values | st.dictionaries(claim_names, json_values),
    signature=st.binary(max_size=64),
)
def test_decode_arbitrary_json_segments_raise_only_token_error(
    header: Any, claims: Any, signature: bytes
) -> None:
    raw = f"{segment(header)}.{segment(claims)}.{b64(signature)}"

    with pytest.raises(TokenError):
        tokens.decode(raw, "access")


@PROPERTY_SETTINGS
@given(
    extra_header=st.dictionaries(header_names, json_values, max_size=3),
    extra_claims=st.dictionaries(claim_names | st.text(max_size=8), json_values, max_size=4),
    dropped=st.sets(claim_names, max_size=3),
)
def test_decode_validly_signed_arbitrary_claims_return_token_or_raise_token_error(
    extra_header: dict[str, Any], extra_claims: dict[str, Any], dropped: set[str]
) -> None:
    """Signed with the real key, so claim validation itself meets the garbage."""
    now = int(datetime.now(timezone.utc).timestamp())
    header = {"alg": "HS256", "typ": "at+jwt", **extra_header}
    claims = {**payload(iat=now, exp=now + 900, auth_time=now), **extra_claims}
    for name in dropped:
        claims.pop(name, None)
    raw = sign_by_hand(header, claims, django_settings.SECRET_KEY)

    outcome: Token | TokenError
    try:
        outcome = tokens.decode(raw, "access")
    except TokenError as error:
        outcome = error

    if isinstance(outcome, TokenError):
        assert outcome.code in {"token_invalid", "token_expired"}
    else:
        assert isinstance(outcome.sub, str)
        assert outcome.sub
        assert outcome.token_type == "access"
        assert isinstance(outcome.claims["iat"], int)
        assert not isinstance(outcome.claims["auth_time"], bool)
        # Every date a decoded token offers can be computed.
        assert outcome.auth_time <= outcome.issued_at
        assert isinstance(outcome.lifetime_left(), timedelta)


# Property: signed tokens with arbitrary dates never make a view or the middleware fail --

UNIX_NOW = int(datetime.now(timezone.utc).timestamp())
numeric_dates = st.one_of(
    # Near now: the tokens that authenticate, and reach sliding renewal.
    st.integers(min_value=UNIX_NOW - 40 * 86400, max_value=UNIX_NOW + 3600),
    st.sampled_from([0, -1, LAST_SECOND_OF_9999, LAST_SECOND_OF_9999 + 1, 10**30, 2**63]),
    st.integers(),
    st.floats(),
    st.booleans(),
)
fuzzed_dates = st.fixed_dictionaries(
    {"iat": numeric_dates, "exp": numeric_dates, "auth_time": numeric_dates},
    optional={"nbf": numeric_dates},
)


@pytest.fixture
def live_session(db: Any) -> dict[str, Any]:
    """The sub and sid of a real session, so a forged-but-signed token authenticates."""
    user = get_user_model().objects.create_user(username="fuzz", password="fuzz-password")
    pair = services.login(user)
    return {"sub": str(user.pk), "sid": pair.access_token.sid}


def _signed(kind: str, dates: dict[str, Any], sub: str, sid: str) -> str:
    claims = {
        "sub": sub,
        "jti": tokens.new_jti(),
        "sid": sid,
        "token_type": kind,
        **dates,
    }
    return sign_by_hand({"alg": "HS256", "typ": TYP[kind]}, claims, django_settings.SECRET_KEY)


@PROPERTY_SETTINGS
@given(dates=fuzzed_dates)
def test_views_and_middleware_signed_token_with_arbitrary_dates_never_answer_500(
    live_session: dict[str, Any], dates: dict[str, Any]
) -> None:
    """An application view (through SlidingTokenMiddleware), refresh and logout."""
    client = APIClient(raise_request_exception=False)
    access = _signed("access", dates, **live_session)
    refresh = _signed("refresh", dates, **live_session)
    # Logout ends the session it names: a made-up one, so the live one stays usable.
    elsewhere = _signed("refresh", dates, sub=live_session["sub"], sid=str(uuid.uuid4()))

    responses = [
        client.get("/api/whoami/", HTTP_AUTHORIZATION=f"Bearer {access}"),
        client.post("/api/auth/token/refresh/", {"refresh": refresh}, format="json"),
        client.post("/api/auth/logout/", {"refresh": elsewhere}, format="json"),
    ]

    for response in responses:
        assert response.status_code < 500, response.content
        if response.status_code >= 400:
            assert response.json()["code"]


@pytest.mark.parametrize(
    "dates",
    [
        pytest.param({"exp": 10**30}, id="exp-1e30"),
        pytest.param({"exp": LAST_SECOND_OF_9999 + 1}, id="exp-year-10000"),
        pytest.param({"auth_time": 10**30}, id="auth_time-1e30"),
        pytest.param({"auth_time": LAST_SECOND_OF_9999 + 1}, id="auth_time-year-10000"),
    ],
)
def test_middleware_signed_token_with_out_of_range_date_is_401_not_500(
    live_session: dict[str, Any], dates: dict[str, Any]
) -> None:
    """The probe's finding: ``Token.expires_at`` overflowed in SlidingTokenMiddleware."""
    now = int(datetime.now(timezone.utc).timestamp())
    # One minute left: within the sliding threshold, so the middleware renews.
    claims = {"iat": now - 840, "exp": now + 60, "auth_time": now - 3600, **dates}
    access = _signed("access", claims, **live_session)

    response = APIClient(raise_request_exception=False).get(
        "/api/whoami/", HTTP_AUTHORIZATION=f"Bearer {access}"
    )

    assert response.status_code == 401, response.content
    assert response.json()["code"] == "token_invalid"
