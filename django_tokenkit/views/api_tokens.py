"""The API-token endpoints: list, create, revoke and rotate one's own (SPEC section 5).

Only a session's access token may use them: an API token is recognised and
refused with 403 ``api_token_not_allowed``, so a token leaked from a job
cannot mint itself successors or hide its own revocation. Each view
validates its body, calls :mod:`django_tokenkit.services.api_tokens` and
translates its domain errors: 400 for bad input, 404 for a token that is not
the user's (or not rotatable), 409 ``api_token_limit``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from django_tokenkit.authentication import APITokenAuthentication, JWTAuthentication
from django_tokenkit.exceptions import BadRequest, Conflict
from django_tokenkit.models import APIToken, RevokeReason
from django_tokenkit.permissions import DenyAPITokens
from django_tokenkit.serializers import (
    APITokenCreateSerializer,
    APITokenRotateSerializer,
    APITokenSerializer,
)
from django_tokenkit.services import api_tokens
from django_tokenkit.views.base import TokenkitAPIView


class APITokenPagination(PageNumberPagination):
    """``?page=N`` (and ``?page_size=``, at most 100), 25 tokens a page by default.

    Fixed here rather than taken from ``DEFAULT_PAGINATION_CLASS``, so the
    shape of the list (``count``, ``next``, ``previous``, ``results``) is the
    documented one in every project.
    """

    page_size = 25
    page_size_query_param = "page_size"
    max_page_size = 100


@contextmanager
def _domain_errors() -> Iterator[None]:
    """Translate the service's refusals into the SPEC's statuses and codes."""
    try:
        yield
    except api_tokens.InvalidAPITokenRequest as error:
        raise BadRequest(error.detail, error.code) from None
    except api_tokens.APITokenLimitReached as error:
        raise Conflict(error.detail, error.code) from None
    except api_tokens.APITokenNotRotatable:
        raise NotFound(code="not_found") from None


def _seconds(value: int | None) -> timedelta | None:
    return None if value is None else timedelta(seconds=value)


def _own_token(user: AbstractBaseUser, token_id: str) -> APIToken:
    """The user's token with id ``token_id``; 404 for a malformed, unknown or foreign id.

    All three are the same 404, so ids cannot be probed.
    """
    try:
        pk = uuid.UUID(token_id)
    except ValueError:
        raise NotFound(code="not_found") from None
    record: APIToken | None = APIToken.objects.filter(pk=pk, user=user).first()
    if record is None:
        raise NotFound(code="not_found")
    return record


def _owner(request: Request) -> AbstractBaseUser:
    """The authenticated user (``IsAuthenticated`` ran first, so never anonymous)."""
    user = request.user
    assert isinstance(user, AbstractBaseUser)
    return user


def _issued_response(issued: api_tokens.IssuedAPIToken) -> Response:
    """201 with the token's fields and, this once, the token itself."""
    fields = dict(APITokenSerializer(issued.record).data)
    data = {"id": fields.pop("id"), "name": fields.pop("name"), "token": issued.token, **fields}
    return Response(data, status=status.HTTP_201_CREATED)


class APITokenBaseView(TokenkitAPIView):
    """Bearer access tokens only; API tokens are recognised, then refused (403)."""

    authentication_classes = [JWTAuthentication, APITokenAuthentication]
    permission_classes = [IsAuthenticated, DenyAPITokens]


class APITokenListView(APITokenBaseView):
    """``GET api-tokens/`` lists the user's live tokens; ``POST`` creates one."""

    def get(self, request: Request) -> Response:
        tokens = APIToken.objects.filter(user=request.user).active().order_by("-created_at", "-pk")
        paginator = APITokenPagination()
        page: list[APIToken] | None = paginator.paginate_queryset(tokens, request, view=self)
        return paginator.get_paginated_response(APITokenSerializer(page, many=True).data)

    def post(self, request: Request) -> Response:
        serializer = APITokenCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        with _domain_errors():
            issued = api_tokens.create(
                _owner(request),
                name=data["name"],
                expires_in=_seconds(data["expires_in"]),
                scopes=data["scopes"],
                request=request._request,
            )
        return _issued_response(issued)


class APITokenDetailView(APITokenBaseView):
    """``DELETE api-tokens/<id>/``: revoke one of the user's own tokens.

    Revoking a token already revoked is a 204 again, as for sessions.
    """

    def delete(self, request: Request, token_id: str) -> Response:
        record = _own_token(_owner(request), token_id)
        api_tokens.revoke([record], RevokeReason.USER_REQUEST)
        return Response(status=status.HTTP_204_NO_CONTENT)


class APITokenRotateView(APITokenBaseView):
    """``POST api-tokens/<id>/rotate/``: a successor now, the old one after the grace."""

    def post(self, request: Request, token_id: str) -> Response:
        serializer = APITokenRotateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data: dict[str, Any] = dict(serializer.validated_data)
        record = _own_token(_owner(request), token_id)
        # Absent means "the old token's lifetime", which the service decides.
        lifetime = {"expires_in": _seconds(data["expires_in"])} if "expires_in" in data else {}
        with _domain_errors():
            issued = api_tokens.rotate(
                record,
                grace=timedelta(seconds=data["grace_seconds"]),
                request=request._request,
                **lifetime,
            )
        return _issued_response(issued)
