"""Encoding and decoding of tokenkit's JWTs: the only module that imports PyJWT.

Claims follow RFC 7519 section 4.1 (``sub``, ``jti``, ``iat``, ``exp``,
``iss``, ``aud``) plus tokenkit's own ``sid`` (the login session every token
descends from), ``auth_time`` (when that login happened, as in OpenID Connect
Core section 2) and ``token_type``. Access tokens carry the header
``typ: at+jwt`` (RFC 9068 section 2.1) and refresh tokens ``typ: refresh+jwt``;
both the header and the claim are checked, so neither kind can pass for the
other.

Every failure raises exactly one of :class:`~django_tokenkit.exceptions.TokenExpired`
or :class:`~django_tokenkit.exceptions.TokenInvalid`; nothing a client sends
can make this module raise anything else.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

import jwt
from django.core.signals import setting_changed
from django.utils import timezone as dj_timezone
from jwt.types import Options

from django_tokenkit import keys
from django_tokenkit.conf import SOURCE_SETTINGS, tokenkit_settings
from django_tokenkit.exceptions import TokenExpired, TokenInvalid
from django_tokenkit.keys import Key

#: Gives the keys that may verify a token whose header carries this ``kid``
#: (None: the header has none). The local keys by default; a verifying
#: service's resolver fetches its issuer's JWKS (:mod:`django_tokenkit.jwks_client`).
KeyResolver = Callable[[str | None], list[Key]]

TokenType = Literal["access", "refresh"]
ACCESS: TokenType = "access"
REFRESH: TokenType = "refresh"

#: The JOSE ``typ`` header of each token type.
TYP_HEADERS: dict[str, str] = {ACCESS: "at+jwt", REFRESH: "refresh+jwt"}

WRONG_TYPE = {ACCESS: "Token is not an access token.", REFRESH: "Token is not a refresh token."}

REQUIRED_CLAIMS = ["sub", "jti", "iat", "exp", "sid", "auth_time", "token_type"]

#: The numeric date claims (RFC 7519 section 2, "NumericDate") tokenkit reads.
NUMERIC_DATE_CLAIMS = ("iat", "exp", "nbf", "auth_time")
#: The last second ``datetime`` can represent (9999-12-31T23:59:59Z). A signed
#: claim beyond it would make every date computed from the token overflow.
MAX_NUMERIC_DATE = 253402300799

#: A base64url segment with at most two padding characters (RFC 7515 section 2).
_BASE64URL_SEGMENT = re.compile(r"[A-Za-z0-9_-]*={0,2}")

#: How many verified tokens each process remembers (see :func:`decode`). An
#: entry is the token string and its claims, about a kilobyte.
VERIFIED_CACHE_SIZE = 2048
#: Keyed by the token string and its type (prefixed ``remote:`` for tokens a
#: verifying service checked against its issuer's keys).
_verified: dict[tuple[str, str], Token] = {}
#: Serialises additions and evictions; lookups need no lock.
_verified_lock = threading.Lock()


@dataclass(frozen=True)
class Token:
    """A verified token's claims, as handed to views in ``request.auth``.

    :func:`decode` admits only whole-second dates between 1970 and the end of
    year 9999 (:data:`MAX_NUMERIC_DATE`), so the date properties of a
    decoded token never overflow.
    """

    token_type: TokenType
    claims: Mapping[str, Any] = field(repr=False)
    kid: str | None = None
    #: False for a token a verifying service checked against its issuer's
    #: published keys: it can verify such a token, never renew it.
    issued_here: bool = True

    @property
    def jti(self) -> str:
        return str(self.claims["jti"])

    @property
    def sub(self) -> str:
        return str(self.claims["sub"])

    @property
    def sid(self) -> str:
        return str(self.claims["sid"])

    @property
    def issued_at(self) -> datetime:
        return datetime.fromtimestamp(self.claims["iat"], tz=timezone.utc)

    @property
    def expires_at(self) -> datetime:
        return datetime.fromtimestamp(self.claims["exp"], tz=timezone.utc)

    @property
    def auth_time(self) -> datetime:
        return datetime.fromtimestamp(self.claims["auth_time"], tz=timezone.utc)

    def lifetime_left(self, now: datetime | None = None) -> timedelta:
        """Time until ``exp`` (negative once expired)."""
        return self.expires_at - (now or dj_timezone.now())

    def __getitem__(self, claim: str) -> Any:
        return self.claims[claim]

    def get(self, claim: str, default: Any = None) -> Any:
        return self.claims.get(claim, default)


def new_jti() -> str:
    """A random token id: 128 bits, URL-safe (see :func:`is_well_formed_jti`)."""
    return secrets.token_urlsafe(16)


#: The longest token id tokenkit stores: the length of every ``jti`` column.
JTI_MAX_LENGTH = 64

#: The base64url alphabet (RFC 4648 section 5) :func:`new_jti` draws from.
_JTI_CHARACTERS = re.compile(r"[A-Za-z0-9_-]+")


def is_well_formed_jti(value: object) -> bool:
    """Whether ``value`` can be the id of a token tokenkit recorded.

    :func:`new_jti` makes 22 base64url characters; ids of 1 to
    :data:`JTI_MAX_LENGTH` characters from that alphabet are accepted, which
    also covers hex and UUID ids. Anything else (a NUL byte, which PostgreSQL
    refuses outright, spaces, an id longer than the column) cannot name a
    recorded token, so a caller that receives an id from outside (the admin,
    a management command) answers "no such token" without a query.
    """
    return (
        isinstance(value, str)
        and len(value) <= JTI_MAX_LENGTH
        and _JTI_CHARACTERS.fullmatch(value) is not None
    )


def encode(
    token_type: TokenType,
    *,
    sub: str,
    sid: str,
    auth_time: datetime,
    expires_at: datetime,
    now: datetime | None = None,
    jti: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> tuple[str, Token]:
    """Sign a new token and return it with its parsed form.

    ``extra`` holds custom claims (:mod:`django_tokenkit.claims` has already
    refused reserved names); tokenkit's own claims are set after them, so
    they win whatever ``extra`` holds.
    """
    issued = now or dj_timezone.now()
    claims: dict[str, Any] = dict(extra or {})
    claims |= {
        "sub": sub,
        "jti": jti or new_jti(),
        "iat": int(issued.timestamp()),
        "exp": int(expires_at.timestamp()),
        "sid": sid,
        "auth_time": int(auth_time.timestamp()),
        "token_type": token_type,
    }
    issuer = tokenkit_settings.issuer
    if issuer is not None:
        claims["iss"] = issuer
    audience = tokenkit_settings.audience
    if audience is not None:
        claims["aud"] = audience
    key = keys.signing_key(tokenkit_settings.signing_keys)
    headers: dict[str, Any] = {"typ": TYP_HEADERS[token_type]}
    if key.kid is not None:
        headers["kid"] = key.kid
    # key.signer is the parsed private key (or the HMAC secret): nothing is
    # parsed here. ES256 signatures are randomised, so signing the same
    # claims twice gives two strings; see docs/keys.rst for what a replay returns.
    # load_keys refuses a verify-only key in first place (tokenkit.E014).
    assert key.signer is not None
    raw = jwt.encode(claims, key.signer, algorithm=key.algorithm.name, headers=headers)
    return raw, Token(token_type=token_type, claims=claims, kid=key.kid)


def decode(
    raw: object,
    token_type: TokenType,
    *,
    verify_exp: bool = True,
    resolver: KeyResolver | None = None,
) -> Token:
    """Verify ``raw`` as a token of ``token_type`` and return its claims.

    ``verify_exp=False`` is for logout only, where an expired but genuine
    token may still name the session to end. ``resolver`` replaces the
    configured keys (a verifying service passes its issuer's published
    keys). Raises ``TokenExpired`` past ``exp`` + leeway and ``TokenInvalid``
    for every other defect.

    A client sends the same access token with every request until it is
    renewed, and verifying it (PyJWT's parsing, the HMAC, the claim checks)
    was the largest part of authentication's own CPU time. So each process
    remembers the last :data:`VERIFIED_CACHE_SIZE` tokens that passed every
    check, keyed by the exact token string: the same bytes under the same
    keys always verify the same way, and a string that failed is never
    remembered. The one check that depends on the clock, ``exp``, is made
    again on every use (``iat`` and ``nbf`` only ever become more true).
    Changing ``TOKENKIT`` or ``SECRET_KEY`` forgets everything. Revocation
    is not a property of the token string and is never remembered here.
    """
    tag = token_type if resolver is None else f"remote:{token_type}"
    if verify_exp and isinstance(raw, str):
        known = _verified.get((raw, tag))
        if known is not None:
            return _still_unexpired(raw, tag, known)
    token = _decode(raw, token_type, verify_exp=verify_exp, resolver=resolver)
    if verify_exp and isinstance(raw, str):  # always a str here; narrows the type
        _remember(raw, tag, token)
    return token


def _still_unexpired(raw: str, tag: str, known: Token) -> Token:
    """A fresh copy of remembered ``known``, after checking its ``exp`` against now.

    The same comparison as PyJWT's: expired once ``exp`` <= now - leeway.
    """
    if known.claims["exp"] <= time.time() - tokenkit_settings.leeway.total_seconds():
        with _verified_lock:
            _verified.pop((raw, tag), None)
        raise TokenExpired()
    # A copy: a view that edits request.auth.claims must not edit the next request's.
    return replace(known, claims=dict(known.claims))


def _remember(raw: str, tag: str, token: Token) -> None:
    kept = replace(token, claims=dict(token.claims))
    with _verified_lock:
        while len(_verified) >= VERIFIED_CACHE_SIZE:
            # The oldest entry first: dicts keep insertion order.
            del _verified[next(iter(_verified))]
        _verified[(raw, tag)] = kept


def forget_verified_tokens() -> None:
    """Drop every remembered verification (keys or claim rules changed)."""
    _verified.clear()


def _forget_on_setting_change(*, setting: str, **kwargs: Any) -> None:
    if setting in SOURCE_SETTINGS:
        forget_verified_tokens()


setting_changed.connect(_forget_on_setting_change, dispatch_uid="django_tokenkit.tokens.forget")


def _decode(
    raw: object, token_type: TokenType, *, verify_exp: bool, resolver: KeyResolver | None
) -> Token:
    """:func:`decode` without the memory of verified tokens."""
    if not isinstance(raw, str) or not raw:
        raise TokenInvalid("Token is malformed.")
    if len(raw) > tokenkit_settings.max_token_length:
        raise TokenInvalid("Token is too long.")
    if not raw.isascii() or raw.count(".") != 2:
        raise TokenInvalid("Token is malformed.")
    header = _unverified_header(raw)
    if header.get("typ") != TYP_HEADERS[token_type]:
        raise TokenInvalid(WRONG_TYPE[token_type])
    kid = header.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise TokenInvalid("Token has a malformed key id.")
    configured = tokenkit_settings.signing_keys if resolver is None else resolver(kid)
    candidates = keys.verification_keys(configured, kid)
    if not candidates:
        raise TokenInvalid("Token is signed with an unknown key.")
    # The header's alg only picks among keys whose algorithm was configured
    # (RFC 8725 section 3.1): "none", or HS256 with a public key as the
    # secret, matches no key and is refused here.
    algorithm = header.get("alg")
    candidates = [key for key in candidates if key.algorithm.name == algorithm]
    if not candidates:
        raise TokenInvalid("Token is signed with an algorithm that is not accepted.")
    claims = _verify(raw, candidates, verify_exp=verify_exp)
    _check_claim_types(claims, token_type)
    return Token(token_type=token_type, claims=claims, kid=kid, issued_here=resolver is None)


def unverified_typ(raw: str) -> str | None:
    """The ``typ`` header of ``raw``, read without verifying anything; None if unreadable.

    For telling other packages' tokens apart (simplejwt's are ``JWT``), never
    for trusting them.
    """
    try:
        typ = _unverified_header(raw).get("typ")
    except TokenInvalid:
        return None
    return typ if isinstance(typ, str) else None


def _unverified_header(raw: str) -> dict[str, Any]:
    """The JOSE header of ``raw``, read before anything is verified.

    Only the header segment is decoded here. ``jwt.get_unverified_header``
    would decode and check all three segments, and ``jwt.decode`` does all
    of that again in :func:`_verify`: on the hot path of every request that
    doubled most of PyJWT's parsing. Nothing accepted here escapes PyJWT's
    own checks of every segment and of the header (``kid``, ``crit``) in
    :func:`_verify`; any defect is ``TokenInvalid`` either way.
    """
    segment = raw.partition(".")[0]
    if not _BASE64URL_SEGMENT.fullmatch(segment):
        raise TokenInvalid("Token is malformed.")
    unpadded = segment.rstrip("=")
    try:
        header = json.loads(base64.urlsafe_b64decode(unpadded + "=" * (-len(unpadded) % 4)))
    except (ValueError, TypeError, RecursionError):  # binascii.Error, UnicodeDecodeError
        raise TokenInvalid("Token is malformed.") from None
    if not isinstance(header, dict):
        raise TokenInvalid("Token is malformed.")
    return header


def _verify(raw: str, candidates: list[Key], *, verify_exp: bool) -> dict[str, Any]:
    audience = tokenkit_settings.audience
    options: Options = {
        "require": REQUIRED_CLAIMS,
        "verify_exp": verify_exp,
        # RFC 7519 allows "aud" to be a list; SPEC section 4 wants an exact match.
        "strict_aud": audience is not None,
    }
    for entry in candidates:
        try:
            claims: dict[str, Any] = jwt.decode(
                raw,
                entry.verifier,
                algorithms=[entry.algorithm.name],
                audience=audience,
                issuer=tokenkit_settings.issuer,
                leeway=tokenkit_settings.leeway,
                options=options,
            )
        except jwt.InvalidSignatureError:
            continue
        except jwt.ExpiredSignatureError:
            raise TokenExpired() from None
        except jwt.InvalidAudienceError:
            raise TokenInvalid("Token has the wrong audience.") from None
        except jwt.InvalidIssuerError:
            raise TokenInvalid("Token has the wrong issuer.") from None
        except jwt.MissingRequiredClaimError as error:
            raise TokenInvalid(f"Token has no {error.claim!r} claim.") from None
        except jwt.ImmatureSignatureError:
            raise TokenInvalid("Token is not valid yet.") from None
        except (jwt.PyJWTError, ValueError, TypeError):
            raise TokenInvalid("Token is malformed.") from None
        return claims
    raise TokenInvalid("Token signature is invalid.")


def _check_claim_types(claims: Mapping[str, Any], token_type: TokenType) -> None:
    if claims.get("token_type") != token_type:
        raise TokenInvalid(WRONG_TYPE[token_type])
    for name in ("sub", "jti", "sid"):
        value = claims.get(name)
        if not isinstance(value, str) or not value or len(value) > 255:
            raise TokenInvalid(f"Token has a malformed {name!r} claim.")
    for name in NUMERIC_DATE_CLAIMS:
        if name == "nbf" and name not in claims:
            continue  # the only optional one
        value = claims.get(name)
        # bool is an int subclass: PyJWT would read ``true`` as 1. The range
        # keeps every datetime built from the token (``expires_at``, the
        # session cap ``auth_time`` + SESSION_MAX_LIFETIME) representable.
        if (
            not isinstance(value, int)
            or isinstance(value, bool)
            or not 0 <= value <= MAX_NUMERIC_DATE
        ):
            raise TokenInvalid(f"Token has a malformed {name!r} claim.")
    # A login happens before any token of it is issued: tokenkit signs
    # auth_time <= iat, and PyJWT has checked iat against now + leeway.
    if claims["auth_time"] > claims["iat"]:
        raise TokenInvalid("Token has a malformed 'auth_time' claim.")
