"""``GET <prefix>.well-known/jwks.json``: the public keys, for services that verify tokens.

The JWK Set (RFC 7517 section 5) of the configured asymmetric keys, each
with ``kid``, ``alg`` and ``use: "sig"`` and only its public members: it is
built from the public key objects alone (:meth:`django_tokenkit.keys.Key.public_jwk`).
Verify-only keys are listed too, which is how the next key is published
before it signs (docs/keys.rst). With HMAC keys alone there is nothing that
may be published: 404.

``Cache-Control: public, max-age=<JWKS_MAX_AGE>`` lets verifying services
and proxies keep it; the rotation procedure waits twice that before signing
with a newly published key. ``Access-Control-Allow-Origin: *``: public keys
are public, and browsers verifying tokens may fetch them.
"""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from django_tokenkit import keys
from django_tokenkit.conf import tokenkit_settings
from django_tokenkit.views.base import exception_handler


class JWKSView(APIView):
    """The JWKS of the asymmetric signing and verification keys; 404 with HMAC only."""

    authentication_classes: list[type[Any]] = []
    permission_classes = [AllowAny]
    renderer_classes = [JSONRenderer]
    throttle_classes: list[type[Any]] = []

    def get_exception_handler(self) -> Any:
        return exception_handler

    def get(self, request: Request) -> Response:
        document = keys.jwks(tokenkit_settings.signing_keys)
        if not document["keys"]:
            raise NotFound("No public keys: tokens are signed with HMAC.")
        response = Response(document)
        max_age = int(tokenkit_settings.jwks_max_age.total_seconds())
        response["Cache-Control"] = f"public, max-age={max_age}"
        response["Access-Control-Allow-Origin"] = "*"
        return response
