"""The measured endpoint: the example project's ``GET /api/me/``."""

from __future__ import annotations

from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView


class MeView(APIView):
    """Return the authenticated user's username (empty for the floor)."""

    def get(self, request: Request) -> Response:
        return Response({"username": request.user.get_username()})
