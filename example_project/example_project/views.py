"""Project-level views: the single-page demo and ``GET /api/me/``."""

from __future__ import annotations

from typing import Any

from django.views.generic import TemplateView
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from django_tokenkit.conf import tokenkit_settings


class LandingView(TemplateView):
    """The single-page demo (SPEC section 7), with the API reference below it.

    The page is a shell: ``demo/app.js`` (static, plain JavaScript over
    ``django_tokenkit/tokenkit.js``) does everything in the browser. It is a
    template only for the URLs: the base URL is taken from the request so the
    curl examples are right whatever host and port the demo was started on.
    """

    template_name = "landing.html"

    #: The API-token panel's lifetimes, in seconds; ``None`` never expires.
    API_TOKEN_LIFETIMES: tuple[tuple[int | None, str], ...] = (
        (86_400, "1 day"),
        (30 * 86_400, "30 days"),
        (90 * 86_400, "90 days"),
        (365 * 86_400, "1 year"),
        (None, "never expires"),
    )

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["base_url"] = self.request.build_absolute_uri("/").rstrip("/")
        # From the settings, so the panel offers what the server accepts:
        # API_TOKEN_MAX_LIFETIME rules out "never" and longer lifetimes.
        context["api_token_scopes"] = tokenkit_settings.api_token_scopes
        longest = tokenkit_settings.api_token_max_lifetime
        context["api_token_lifetimes"] = [
            ("never" if seconds is None else seconds, label)
            for seconds, label in self.API_TOKEN_LIFETIMES
            if longest is None or (seconds is not None and seconds <= longest.total_seconds())
        ]
        return context


class MeView(APIView):
    """Return the authenticated user's username.

    The smallest protected endpoint: it shows that a Bearer access token
    authenticates, and gives a client something cheap to call to check that
    its session is still alive. Anonymous callers get the package's 401.
    """

    @extend_schema(
        responses=inline_serializer("Me", fields={"username": serializers.CharField()}),
        summary="The authenticated user",
    )
    def get(self, request: Request) -> Response:
        return Response({"username": request.user.get_username()})
