"""RFC 7009 token revocation and RFC 7662 token introspection (SPEC section 5).

Both take ``application/x-www-form-urlencoded`` bodies as the RFCs define
them (JSON works too, as for every tokenkit view), with ``token`` and an
optional ``token_type_hint`` (``access_token``, ``refresh_token`` or
``api_token``). Revocation needs no credentials beyond the token itself:
whoever holds a token may end it. Introspection reveals whose a token is,
so the caller authenticates and needs the ``tokenkit.introspect_token``
permission or an API token with the ``introspection`` scope
(:class:`~django_tokenkit.permissions.CanIntrospectTokens`).
"""

from __future__ import annotations

from rest_framework.request import Request
from rest_framework.response import Response

from django_tokenkit import introspection
from django_tokenkit.authentication import APITokenAuthentication, JWTAuthentication
from django_tokenkit.models import RevokeReason
from django_tokenkit.permissions import CanIntrospectTokens
from django_tokenkit.serializers import TokenFormSerializer
from django_tokenkit.services import api_tokens, revocation
from django_tokenkit.views.base import TokenkitAPIView


class TokenRevokeView(TokenkitAPIView):
    """``POST revoke/`` (RFC 7009): end the presented token.

    A refresh or access token ends its whole session (as ``logout/`` does,
    expired tokens included: they still name their session); an API token
    is revoked by itself. The answer is 200 with an empty body whether or
    not the token was known, valid or already revoked (RFC 7009 section
    2.2), so the endpoint tells a caller nothing about tokens it guesses.
    """

    def post(self, request: Request) -> Response:
        serializer = TokenFormSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        raw = serializer.validated_data["token"]
        hint = serializer.validated_data.get("token_type_hint")
        if introspection.is_api_token(raw):
            api_tokens.revoke_presented(raw, RevokeReason.USER_REQUEST)
        else:
            token = introspection.decode_any(raw, hint, verify_exp=False)
            if token is not None:
                revocation.logout([token])
        return Response()


class TokenIntrospectView(TokenkitAPIView):
    """``POST introspect/`` (RFC 7662): is the presented token active, and whose?

    The caller authenticates with a session's access token or an API token.
    The answer is ``{"active": false}`` for any token the API would refuse
    now, and otherwise its claims (see
    :func:`django_tokenkit.introspection.introspect`). This replaces
    simplejwt's ``token/verify/``, with revocation taken into account.
    """

    authentication_classes = [JWTAuthentication, APITokenAuthentication]
    permission_classes = [CanIntrospectTokens]

    def post(self, request: Request) -> Response:
        serializer = TokenFormSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        answer = introspection.introspect(
            serializer.validated_data["token"], serializer.validated_data.get("token_type_hint")
        )
        return Response(answer)
