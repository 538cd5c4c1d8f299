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
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.cache import caches
from rest_framework.request import Request
from rest_framework_simplejwt.authentication import JWTStatelessUserAuthentication

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
