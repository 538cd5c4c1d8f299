"""Thin HTTP views over :mod:`django_tokenkit.services` (SPEC section 5).

Each view validates its body, calls one service function and translates
domain errors into the SPEC's status codes. None writes a model itself.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

from django.contrib.auth import authenticate
from django.db import DatabaseError, transaction
from rest_framework import status
from rest_framework.exceptions import ErrorDetail, NotFound, ValidationError
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from django_tokenkit import cookies, services, tokens
from django_tokenkit.authentication import (
    JWTAuthentication,
    bearer_challenge,
    credentials_from_header,
    remember_auth_error,
)
from django_tokenkit.exceptions import (
    AuthenticationError,
    BadRequest,
    InvalidCredentials,
    ServiceUnavailable,
    TokenError,
    to_api_exception,
)
from django_tokenkit.models import RevokeReason, Session
from django_tokenkit.parsers import BoundedFormParser, BoundedJSONParser, check_content_length
from django_tokenkit.serializers import (
    LoginSerializer,
    LogoutSerializer,
    RefreshSerializer,
    SessionSerializer,
)
from django_tokenkit.throttling import LoginRateThrottle
from django_tokenkit.tokens import Token

logger = logging.getLogger(__name__)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's exception handler, plus a ``code`` beside every lone ``detail``.

    Set it as ``REST_FRAMEWORK["EXCEPTION_HANDLER"]`` so your own views'
    errors (``not_authenticated``, ``permission_denied``, ``throttled``, ...)
    carry the same machine-readable ``code`` as tokenkit's. Validation errors
    keep DRF's field-keyed shape.
    """
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(response.data, dict):
        detail = response.data.get("detail")
        code = getattr(detail, "code", None)
        if len(response.data) == 1 and isinstance(code, str):
            response.data["code"] = code
    return response


def pair_response(request: Request, pair: services.TokenPair) -> Response:
    """200 with the pair; in cookie mode the refresh token goes in the cookie only."""
    data = pair.as_response_data()
    if not cookies.enabled():
        return Response(data)
    del data["refresh"]
    response = Response(data)
    cookies.set_refresh_cookie(response, pair.refresh, pair.refresh_token)
    cookies.ensure_csrf_cookie(request._request)
    return response


class TokenkitAPIView(APIView):
    """Shared plumbing: no session auth, bounded parsers, RFC 6750 challenges.

    The views opt out of ``ATOMIC_REQUESTS``: a reuse detection must revoke
    the session even though the request then fails with a 401.
    """

    authentication_classes: list[type[Any]] = []
    permission_classes = [AllowAny]
    parser_classes = [BoundedJSONParser, BoundedFormParser]
    renderer_classes = [JSONRenderer]
    throttle_classes: list[type[Any]] = []

    @classmethod
    def as_view(cls, **initkwargs: Any) -> Any:  # the same view, marked non-atomic
        return transaction.non_atomic_requests(super().as_view(**initkwargs))

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        # Before anything reads the body: DRF reads it whole before our parsers run.
        check_content_length(request.META)
        super().initial(request, *args, **kwargs)

    def get_exception_handler(self) -> Callable[[Exception, dict[str, Any]], Response | None]:
        return exception_handler

    def get_authenticate_header(self, request: Request) -> str:
        return bearer_challenge(request)

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, AuthenticationError):
            remember_auth_error(self.request, exc)
        if isinstance(exc, DatabaseError):
            # The services roll back what they began; say "try again", not 500.
            logger.exception("tokenkit %s failed on a database error", type(self).__name__)
            exc = ServiceUnavailable()
        return super().handle_exception(exc)

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        # RFC 6749 section 5.1: responses carrying tokens must not be cached.
        response["Cache-Control"] = "no-store"
        response["Pragma"] = "no-cache"
        return response


class TokenObtainView(TokenkitAPIView):
    """``POST token/``: exchange credentials for a pair and start a session.

    In cookie mode the login is CSRF-protected before anything else runs
    (see :func:`django_tokenkit.cookies.enforce_login_csrf`), so a forged
    login spends no throttle slot and never reaches ``authenticate()``.
    """

    throttle_classes = [LoginRateThrottle]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        if request.method == "POST" and cookies.enabled():
            cookies.enforce_login_csrf(request._request)
        super().initial(request, *args, **kwargs)

    def post(self, request: Request) -> Response:
        serializer = LoginSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = authenticate(
            request._request,
            username=serializer.validated_data[serializer.username_field],
            password=serializer.validated_data["password"],
        )
        # AllowAllUsersModelBackend and custom backends may return inactive users.
        if user is None or not getattr(user, "is_active", True):
            raise InvalidCredentials()
        pair = services.login(user, request._request)
        return pair_response(request, pair)


class TokenRefreshView(TokenkitAPIView):
    """``POST token/refresh/``: exchange a refresh token for a new pair."""

    def post(self, request: Request) -> Response:
        serializer = RefreshSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        raw = serializer.validated_data.get("refresh")
        if raw is None and cookies.enabled():
            raw = cookies.refresh_from_cookie(request._request)
        if raw is None:
            raise ValidationError({"refresh": [ErrorDetail("This field is required.", "required")]})
        try:
            pair = services.refresh(raw, request._request)
        except TokenError as error:
            raise to_api_exception(error) from None
        return pair_response(request, pair)

    def handle_exception(self, exc: Exception) -> Response:
        response = super().handle_exception(exc)
        if cookies.enabled() and isinstance(exc, AuthenticationError):
            # The cookie's token is dead for good: stop the browser resending it.
            cookies.delete_refresh_cookie(response)
        return response


class LogoutView(TokenkitAPIView):
    """``POST logout/``: end the sessions of the presented tokens, or all of them.

    Expired but genuine tokens are accepted here: ending a session is never
    harmful, and a client whose access token just ran out must still be able
    to log out. ``all: true`` needs a valid bearer access token.
    """

    def post(self, request: Request) -> Response:
        serializer = LogoutSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        if serializer.validated_data["all"]:
            user = self._authenticated_user(request)
            services.logout((), everywhere_for=user)
            return self._logged_out()
        refresh = serializer.validated_data.get("refresh")
        if refresh is None and cookies.enabled():
            refresh = cookies.refresh_from_cookie(request._request)
        try:
            access = self._bearer_credentials(request)
        except TokenError as error:
            raise to_api_exception(error) from None
        candidates = [(access, tokens.ACCESS), (refresh, tokens.REFRESH)]
        presented: list[Token] = []
        first_error: TokenError | None = None
        for raw, token_type in candidates:
            if raw is None:
                continue
            try:
                presented.append(tokens.decode(raw, token_type, verify_exp=False))
            except TokenError as error:
                first_error = first_error or error
        if presented:
            # Every genuine token presented is logged out, even beside a bad one:
            # the client asked to end its session and that must not fail.
            services.logout(presented)
            return self._logged_out()
        if first_error is not None:
            raise to_api_exception(first_error)
        raise BadRequest(
            "Nothing to log out: send a refresh token or a bearer access token.",
            "nothing_to_log_out",
        )

    def _logged_out(self) -> Response:
        response = Response(status=status.HTTP_204_NO_CONTENT)
        if cookies.enabled():
            cookies.delete_refresh_cookie(response)
        return response

    def _bearer_credentials(self, request: Request) -> str | None:
        header = request.META.get("HTTP_AUTHORIZATION")
        return credentials_from_header(header) if header else None

    def _authenticated_user(self, request: Request) -> Any:
        result = JWTAuthentication().authenticate(request)
        if result is None:
            raise AuthenticationError(
                "Authentication credentials were not provided.",
                "not_authenticated",
                token_presented=False,
            )
        return result[0]


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
        services.revoke_sessions([session], RevokeReason.USER_REQUEST)
        return Response(status=status.HTTP_204_NO_CONTENT)
