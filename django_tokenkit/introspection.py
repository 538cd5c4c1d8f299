"""What a presented token is, now: the read-only half of RFC 7662 and RFC 7009.

Both endpoints take a token of any kind (``token``) and an optional
``token_type_hint``. :func:`introspect` answers RFC 7662's question ("is it
active, and whose?") with the very checks the authentication classes make
(:func:`django_tokenkit.authentication.user_for_verified_token` and
:func:`~django_tokenkit.authentication.api_token_holder`), so an
introspecting service and the API itself never disagree about a token.
Nothing here writes; revocation is in :mod:`django_tokenkit.services`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.utils import timezone

from django_tokenkit import api_token_format, authentication, tokens
from django_tokenkit.exceptions import TokenError, TokenRevoked
from django_tokenkit.models import APIToken, IssuedToken, TokenType
from django_tokenkit.services.rotation import check_session_usable
from django_tokenkit.tokens import Token

#: The ``token_type`` values of an introspection answer, and the hints understood.
ACCESS_TOKEN = "access_token"
REFRESH_TOKEN = "refresh_token"
API_TOKEN = "api_token"

#: ``token_type_hint`` values (RFC 7009 section 2.1 names, and SPEC's words).
HINTS: dict[str, str] = {
    "access_token": ACCESS_TOKEN,
    "access": ACCESS_TOKEN,
    "refresh_token": REFRESH_TOKEN,
    "refresh": REFRESH_TOKEN,
    "api_token": API_TOKEN,
    "api": API_TOKEN,
}

INACTIVE: dict[str, Any] = {"active": False}


def is_api_token(raw: str) -> bool:
    """Whether ``raw`` is meant as an API token (its prefix), well formed or not."""
    return raw.startswith(api_token_format.PREFIX)


def jwt_types(hint: str | None) -> Sequence[tokens.TokenType]:
    """The JWT types to try for ``hint``, the hinted one first.

    RFC 7009 section 2.1 and RFC 7662 section 2.1: a hint that does not
    match (or that the server does not know) only changes the search order,
    never its outcome.
    """
    if HINTS.get(hint or "") == REFRESH_TOKEN:
        return (tokens.REFRESH, tokens.ACCESS)
    return (tokens.ACCESS, tokens.REFRESH)


def decode_any(raw: str, hint: str | None, *, verify_exp: bool = True) -> Token | None:
    """``raw`` verified as an access or a refresh token, or None when it is neither."""
    for token_type in jwt_types(hint):
        try:
            return tokens.decode(raw, token_type, verify_exp=verify_exp)
        except TokenError:
            continue
    return None


def introspect(raw: str, hint: str | None = None) -> dict[str, Any]:
    """RFC 7662 section 2.2's answer for ``raw``: ``{"active": false}`` or its claims.

    Active means the API would accept the token on this request: for an
    access token what ``JWTAuthentication`` checks (signature, type,
    expiry, revocation of the token, its session and its user); for a
    refresh token also what a refresh checks (on record, neither revoked
    nor already rotated, its session within its cap and idle timeout); for
    an API token what ``APITokenAuthentication`` checks. Anything else
    (expired, revoked, a bad signature, the wrong type, unknown, malformed)
    is ``{"active": false}``, whatever the reason: RFC 7662 section 2.2
    tells the caller nothing more. A database that cannot answer raises
    ``DatabaseError`` (the view's 503), never "inactive".
    """
    try:
        if is_api_token(raw):
            return _api_token_answer(raw)
        token = decode_any(raw, hint)
        if token is None:
            return dict(INACTIVE)
        return _jwt_answer(token)
    except TokenError:
        return dict(INACTIVE)


def _jwt_answer(token: Token) -> dict[str, Any]:
    user = authentication.user_for_verified_token(token)
    if token.token_type == tokens.REFRESH:
        _check_refresh_usable(token)
    answer: dict[str, Any] = {
        "active": True,
        "sub": token.sub,
        "username": user.get_username(),
        "token_type": ACCESS_TOKEN if token.token_type == tokens.ACCESS else REFRESH_TOKEN,
        "exp": token["exp"],
        "iat": token["iat"],
        "jti": token.jti,
        "sid": token.sid,
    }
    for claim in ("iss", "aud"):
        if claim in token.claims:
            answer[claim] = token[claim]
    return answer


def _check_refresh_usable(token: Token) -> None:
    """Raise unless a refresh with ``token`` would rotate it now (without doing so)."""
    record = (
        IssuedToken.objects.select_related("session__user")
        .filter(jti=token.jti, token_type=TokenType.REFRESH)
        .first()
    )
    if record is None or record.session.sid != token.sid:
        raise TokenRevoked()  # flushed, or its user deleted
    # A rotated token is retired: within the grace period a refresh replays
    # its successor's pair, after it the session is revoked as reused.
    if record.revoked_at is not None or record.rotated_at is not None:
        raise TokenRevoked()
    check_session_usable(record.session, timezone.now())


def _api_token_answer(raw: str) -> dict[str, Any]:
    user, state = authentication.api_token_holder(raw)
    created = APIToken.objects.filter(pk=state.id).values_list("created_at", flat=True).first()
    answer: dict[str, Any] = {
        "active": True,
        "sub": str(state.user_id),
        "username": user.get_username(),
        "token_type": API_TOKEN,
        "jti": state.id,
    }
    if created is not None:
        answer["iat"] = int(created.timestamp())
    if state.expires_at is not None:
        answer["exp"] = int(state.expires_at.timestamp())
    if state.scopes:
        # RFC 7662 section 2.2: a space-separated list (RFC 6749 section 3.3).
        answer["scope"] = " ".join(state.scopes)
    return answer
