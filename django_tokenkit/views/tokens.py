"""The token endpoints: obtain (login), refresh and logout (SPEC section 5).

Each view validates its body, calls one service and translates domain errors
into the SPEC's status codes. None writes a model itself.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import authenticate
from rest_framework import status
from rest_framework.exceptions import ErrorDetail, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from django_tokenkit import cookies, tokens
from django_tokenkit.authentication import JWTAuthentication, credentials_from_header
from django_tokenkit.conf import tokenkit_settings
from django_tokenkit.exceptions import (
    AuthenticationError,
    BadRequest,
    InvalidCredentials,
    TokenError,
    to_api_exception,
)
from django_tokenkit.serializers import LoginSerializer, LogoutSerializer, RefreshSerializer
from django_tokenkit.services import issue, revocation, rotation, transition
from django_tokenkit.throttling import LoginRateThrottle
from django_tokenkit.tokens import Token
from django_tokenkit.views.base import TokenkitAPIView, pair_response


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
        pair = issue.login(user, request._request)
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
            if tokenkit_settings.simplejwt_transition and transition.is_simplejwt_token(raw):
                pair = transition.exchange_refresh(raw, request._request)
            else:
                pair = rotation.refresh(raw, request._request)
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
            revocation.logout((), everywhere_for=user)
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
            revocation.logout(presented)
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
