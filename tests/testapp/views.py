"""Protected views the suite authenticates against."""

from __future__ import annotations

from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView


class WhoAmIView(APIView):
    """Echo the authenticated user and the token's claims."""

    def get(self, request: Request) -> Response:
        claims = getattr(request.auth, "claims", None)
        return Response({"username": request.user.get_username(), "claims": claims})
