"""What every tokenkit view shares: the base view, the exception handler, the pair reply.

``django_tokenkit.views.exception_handler`` is the dotted path users put in
``REST_FRAMEWORK["EXCEPTION_HANDLER"]``; it is defined here and re-exported by
the package.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.db import DatabaseError, transaction
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from django_tokenkit import cookies, dberrors
from django_tokenkit.authentication import bearer_challenge, remember_auth_error
from django_tokenkit.exceptions import AuthenticationError, StoreUnavailable
from django_tokenkit.parsers import BoundedFormParser, BoundedJSONParser, check_content_length
from django_tokenkit.services.issue import TokenPair

logger = logging.getLogger(__name__)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's exception handler, plus a ``code`` beside every lone ``detail``.

    Set it as ``REST_FRAMEWORK["EXCEPTION_HANDLER"]`` so your own views'
    errors (``not_authenticated``, ``permission_denied``, ``throttled``, ...)
    carry the same machine-readable ``code`` as tokenkit's. Validation errors
    keep DRF's field-keyed shape. A service's
    :class:`~django_tokenkit.exceptions.StoreUnavailable` (your view called
    ``services.login`` while the database was down) becomes the 503
    ``service_unavailable`` tokenkit's own views answer.
    """
    if isinstance(exc, StoreUnavailable):
        # A service already logged the database's failure; this is its HTTP answer.
        exc = dberrors.unavailable(exc, logger)
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(response.data, dict):
        detail = response.data.get("detail")
        code = getattr(detail, "code", None)
        if len(response.data) == 1 and isinstance(code, str):
            response.data["code"] = code
    return response


def pair_response(request: Request, pair: TokenPair) -> Response:
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
        if isinstance(exc, StoreUnavailable):
            exc = dberrors.unavailable(exc, logger)  # the service logged the database's error
        elif isinstance(exc, DatabaseError):
            # The services roll back what they began; say "try again", not 500.
            logger.exception("tokenkit %s failed on a database error", type(self).__name__)
            exc = dberrors.unavailable(exc, logger)
        return super().handle_exception(exc)

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        # RFC 6749 section 5.1: responses carrying tokens must not be cached.
        response["Cache-Control"] = "no-store"
        response["Pragma"] = "no-cache"
        return response
