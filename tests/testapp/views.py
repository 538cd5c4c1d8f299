"""Views the suite authenticates against."""

from __future__ import annotations

from typing import Any

from rest_framework import status
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import SAFE_METHODS, AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView, exception_handler

from django_tokenkit.authentication import JWKSAuthentication
from django_tokenkit.permissions import HasScopes
from django_tokenkit.tokens import Token


class WhoAmIView(APIView):
    """Echo the authenticated user and the token's claims."""

    def get(self, request: Request) -> Response:
        claims = getattr(request.auth, "claims", None)
        return Response({"username": request.user.get_username(), "claims": claims})


class RejectingView(APIView):
    """Authenticates like any view, then answers 400: a failed request."""

    def get(self, request: Request) -> Response:
        return Response({"detail": "no"}, status=status.HTTP_400_BAD_REQUEST)


class PublicView(APIView):
    """Open to anonymous users; still authenticates a token when one is sent."""

    permission_classes = [AllowAny]

    def get(self, request: Request) -> Response:
        return Response({"authenticated": bool(request.user and request.user.is_authenticated)})


class SessionOnlyView(APIView):
    """Authenticated by Django's session, never by a token."""

    authentication_classes = [SessionAuthentication]

    def get(self, request: Request) -> Response:
        return Response({"username": request.user.get_username()})


class PlainHandlerView(APIView):
    """The application's own view, with DRF's default exception handler.

    tokenkit's handler adds ``code`` to DRF's errors; this view shows what a
    project that never configured it gets.
    """

    def get_exception_handler(self) -> Any:
        return exception_handler

    def get(self, request: Request) -> Response:
        return Response({"username": request.user.get_username()})


class ScopedView(APIView):
    """Needs ``notes:read`` to read and ``notes:write`` to write, for API tokens."""

    permission_classes = [IsAuthenticated, HasScopes]

    def get_required_scopes(self, request: Request) -> list[str]:
        return ["notes:read"] if request.method in SAFE_METHODS else ["notes:write"]

    def get(self, request: Request) -> Response:
        return Response({"username": request.user.get_username()})

    def post(self, request: Request) -> Response:
        return Response({"written": True}, status=status.HTTP_201_CREATED)


class RemoteWhoAmIView(APIView):
    """A verifying service's view: tokens checked against the issuer's JWKS."""

    authentication_classes = [JWKSAuthentication]

    def get(self, request: Request) -> Response:
        assert isinstance(request.auth, Token)
        return Response({"sub": request.user.pk, "claims": request.auth.claims})
