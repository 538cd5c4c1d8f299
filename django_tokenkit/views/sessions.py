"""The sessions endpoints: list the user's active sessions, revoke one (SPEC section 5)."""

from __future__ import annotations

import uuid

from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from django_tokenkit.authentication import JWTAuthentication
from django_tokenkit.models import RevokeReason, Session
from django_tokenkit.serializers import SessionSerializer
from django_tokenkit.services import revocation
from django_tokenkit.tokens import Token
from django_tokenkit.views.base import TokenkitAPIView


class SessionListView(TokenkitAPIView):
    """``GET sessions/``: the authenticated user's active sessions."""

    authentication_classes = [JWTAuthentication]
    permission_classes = [IsAuthenticated]

    def get(self, request: Request) -> Response:
        sessions = Session.objects.active().filter(user=request.user).order_by("-created_at")
        current_sid = request.auth.sid if isinstance(request.auth, Token) else None
        serializer = SessionSerializer(sessions, many=True, context={"current_sid": current_sid})
        return Response(serializer.data)


class SessionDetailView(TokenkitAPIView):
    """``DELETE sessions/<id>/``: revoke one of the user's own sessions."""

    authentication_classes = [JWTAuthentication]
    permission_classes = [IsAuthenticated]

    def delete(self, request: Request, session_id: uuid.UUID) -> Response:
        session = Session.objects.filter(pk=session_id, user=request.user).first()
        if session is None:
            raise NotFound(code="not_found")
        revocation.revoke_sessions([session], RevokeReason.USER_REQUEST)
        return Response(status=status.HTTP_204_NO_CONTENT)
