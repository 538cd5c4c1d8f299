"""Reference points, not products.

``FirstSightJWTAuthentication`` is tokenkit's ``JWTAuthentication`` with the
process's memory of verified tokens emptied before every call, so each call
pays for full verification, as it does the first time a process sees a
token. It bounds tokenkit's cost for traffic where no token repeats.

``StatelessPlusCacheRoundTrip`` is simplejwt's ``JWTStatelessUserAuthentication``
followed by the same I/O tokenkit does per request: one ``get_many`` of three
keys (session state, token state, a pickled user) on the same Redis through
django-redis, the user filled on a miss. It checks nothing with what it
fetches. Measured beside tokenkit, it separates the cost of the one cache
round trip that any shared revocation check needs from the cost of
tokenkit's own work.

``SimpleJWT<ALG>Authentication`` is simplejwt's stock ``JWTAuthentication``
as a project configured with ``SIMPLE_JWT = {"ALGORITHM": "<ALG>",
"SIGNING_KEY": <private PEM>, "VERIFYING_KEY": <public PEM>}`` runs it: the
same ``TokenBackend`` with the same PEM strings (which PyJWT parses on every
call). simplejwt builds its one backend from settings at import, so a run
that measures several algorithms in one process gives each its own access
token class carrying that backend; nothing else differs.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.cache import caches
from rest_framework.request import Request
from rest_framework_simplejwt.authentication import JWTAuthentication as SimpleJWTAuthentication
from rest_framework_simplejwt.authentication import JWTStatelessUserAuthentication
from rest_framework_simplejwt.backends import TokenBackend
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.tokens import AccessToken

from benchmarks import keys
from django_tokenkit import tokens
from django_tokenkit.authentication import JWTAuthentication

CACHE_ALIAS = "redis"


class StatelessPlusCacheRoundTrip(JWTStatelessUserAuthentication):
    def authenticate(self, request: Request) -> Any:
        result = super().authenticate(request)
        if result is None:
            return None
        token_user, token = result
        cache = caches[CACHE_ALIAS]
        keys = [f"ref:sid:{token['jti']}", f"ref:jti:{token['jti']}", f"ref:user:{token_user.id}"]
        found = cache.get_many(keys)
        if keys[2] not in found:
            user = get_user_model()._default_manager.get(pk=token_user.id)
            cache.add(keys[2], user, timeout=300)
        return result


class FirstSightJWTAuthentication(JWTAuthentication):
    def authenticate(self, request: Request) -> Any:
        tokens.forget_verified_tokens()
        return super().authenticate(request)


def _simplejwt_for(algorithm: str) -> tuple[type[SimpleJWTAuthentication], type[AccessToken]]:
    backend = TokenBackend(
        algorithm,
        signing_key=keys.private_path(algorithm).read_text(),
        verifying_key=keys.public_path(algorithm).read_text(),
    )

    class Access(AccessToken):
        _token_backend = backend

    class Authentication(SimpleJWTAuthentication):
        def get_validated_token(self, raw_token: bytes) -> Any:
            try:
                return Access(raw_token)
            except TokenError as error:
                raise InvalidToken({"detail": str(error)}) from error

    return Authentication, Access


#: algorithm -> the access token class simplejwt would use with that algorithm's keys.
SIMPLEJWT_ACCESS_TOKENS: dict[str, type[AccessToken]] = {}
SimpleJWTRS256Authentication, SIMPLEJWT_ACCESS_TOKENS["RS256"] = _simplejwt_for("RS256")
SimpleJWTES256Authentication, SIMPLEJWT_ACCESS_TOKENS["ES256"] = _simplejwt_for("ES256")
SimpleJWTEdDSAAuthentication, SIMPLEJWT_ACCESS_TOKENS["EdDSA"] = _simplejwt_for("EdDSA")
