"""drf-spectacular extensions: tokenkit's schemes and views in your OpenAPI schema.

Imported by :meth:`django_tokenkit.apps.TokenkitConfig.ready` only when
drf-spectacular is installed (:func:`django_tokenkit.contrib.load`);
defining the extension classes registers them with drf-spectacular.

- ``JWTAuthentication`` is the security scheme ``tokenkitJWT`` (HTTP bearer,
  format JWT) and ``APITokenAuthentication`` ``tokenkitAPIToken`` (HTTP
  bearer, a ``tkp_`` token);
- each tokenkit view gets its request and response bodies, and every error
  it can answer with its body: ``{"detail", "code"}`` for 401, 403, 404,
  409, 429 and 503, DRF's field-keyed validation shape (or the same
  ``{"detail", "code"}`` for an unreadable body) for 400.

Views are named by dotted path, so a view missing from this release (or a
class another version renamed) is skipped rather than breaking the schema.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension, OpenApiViewExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers

from django_tokenkit import cookies
from django_tokenkit.conf import tokenkit_settings
from django_tokenkit.serializers import (
    APITokenCreateSerializer,
    APITokenRotateSerializer,
    APITokenSerializer,
    LoginSerializer,
    LogoutSerializer,
    RefreshSerializer,
    SessionSerializer,
    StrictCharField,
    TokenFormSerializer,
)

JWT_SCHEME = "tokenkitJWT"
API_TOKEN_SCHEME = "tokenkitAPIToken"

# --- schemes --------------------------------------------------------------------------


# drf-spectacular registers an extension in its (untyped) __init_subclass__.
class JWTAuthenticationScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    """``Authorization: Bearer <access token>`` (the first of ``AUTH_HEADER_TYPES``)."""

    target_class = "django_tokenkit.authentication.JWTAuthentication"
    name = JWT_SCHEME

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        prefix = tokenkit_settings.auth_header_types[0]
        return build_bearer_security_scheme_object("Authorization", prefix, "JWT")


class APITokenAuthenticationScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    """``Authorization: Bearer tkp_...`` (``Token tkp_...`` works too)."""

    target_class = "django_tokenkit.authentication.APITokenAuthentication"
    name = API_TOKEN_SCHEME

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return build_bearer_security_scheme_object("Authorization", "Bearer", "tkp_ API token")


class JWKSAuthenticationScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    """A verifying service's ``Authorization: Bearer <access token>`` (issuer's JWKS)."""

    target_class = "django_tokenkit.authentication.JWKSAuthentication"
    name = JWT_SCHEME

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return build_bearer_security_scheme_object("Authorization", "Bearer", "JWT")


# --- bodies -----------------------------------------------------------------------------


class ErrorSerializer(serializers.Serializer[Any]):
    """Every error body but a validation error: SPEC section 5's ``{"detail", "code"}``."""

    detail = serializers.CharField()
    code = serializers.CharField()


class PairSerializer(serializers.Serializer[Any]):
    """The pair login and refresh answer; ``refresh`` is left out in cookie mode."""

    access = serializers.CharField()
    refresh = serializers.CharField(required=False)
    token_type = serializers.ChoiceField(choices=["Bearer"])
    expires_in = serializers.IntegerField()
    refresh_expires_in = serializers.IntegerField()


class APITokenSecretSerializer(APITokenSerializer):
    """A new API token as create and rotate answer it: with ``token``, this once."""

    token = serializers.CharField(read_only=True)


class APITokenPageSerializer(serializers.Serializer[Any]):
    """One page of ``GET api-tokens/``."""

    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = APITokenSerializer(many=True)


class RequiredRefreshSerializer(RefreshSerializer):
    """Outside cookie mode ``refresh`` is required: the body is its only source."""

    refresh = StrictCharField(trim_whitespace=False)


class IntrospectionSerializer(serializers.Serializer[Any]):
    """RFC 7662 section 2.2: ``active`` alone when false, the claims when true."""

    active = serializers.BooleanField()
    sub = serializers.CharField(required=False)
    username = serializers.CharField(required=False)
    token_type = serializers.ChoiceField(
        choices=["access_token", "refresh_token", "api_token"], required=False
    )
    exp = serializers.IntegerField(required=False)
    iat = serializers.IntegerField(required=False)
    jti = serializers.CharField(required=False)
    sid = serializers.CharField(required=False)
    scope = serializers.CharField(required=False)
    iss = serializers.CharField(required=False)
    aud = serializers.CharField(required=False)


#: A 400: DRF's field-keyed lists, or ``{"detail", "code"}`` for an unreadable body.
#: A JWK Set: public members only; which ones depends on each key's type.
JWKS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["keys"],
    "properties": {
        "keys": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["kty", "kid", "alg", "use"],
                "properties": {
                    "kty": {"type": "string"},
                    "kid": {"type": "string"},
                    "alg": {"type": "string"},
                    "use": {"type": "string", "enum": ["sig"]},
                },
                "additionalProperties": {"type": "string"},
            },
        }
    },
}

#: DRF's validation errors: a message or a list of them per field, and for a
#: list field (``scopes``) an object of those per failing index.
_FIELD_ERRORS: dict[str, Any] = {
    "oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]
}
BAD_REQUEST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": {
        "oneOf": [
            *_FIELD_ERRORS["oneOf"],
            {"type": "object", "additionalProperties": _FIELD_ERRORS},
        ]
    },
}

_DESCRIPTIONS = {
    400: "Missing or malformed fields, or an unreadable body (`parse_error`).",
    401: "Not authenticated, or the token cannot be used (see the `code`).",
    403: "Refused (see the `code`).",
    404: "Not found, or not the caller's.",
    409: "Conflict (see the `code`).",
    429: "Throttled; see `Retry-After`.",
    503: "The database could not answer (`service_unavailable`); retry later.",
}


def error_responses(*statuses: int) -> dict[int, OpenApiResponse]:
    """The documented error answers for ``statuses``, each with its body."""
    responses: dict[int, OpenApiResponse] = {}
    for status in statuses:
        body: Any = BAD_REQUEST_SCHEMA if status == 400 else ErrorSerializer
        responses[status] = OpenApiResponse(body, description=_DESCRIPTIONS[status])
    return responses


def _handler(view: type[Any], method: str, schema: dict[str, Any]) -> Any:
    """A schema-only ``method`` of ``view`` that carries ``schema``."""

    def handler(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError  # pragma: no cover - drf-spectacular never calls it

    handler.__name__ = method
    handler.__doc__ = getattr(view, method).__doc__ or view.__doc__
    return extend_schema(**schema)(handler)


def _documented(view: type[Any], schemas: dict[str, dict[str, Any]]) -> type[Any]:
    """A schema-only subclass of ``view`` whose methods carry ``schemas``."""
    methods = {method: _handler(view, method, schema) for method, schema in schemas.items()}
    return type(view.__name__, (view,), methods)


def _view_extension(
    dotted: str, schemas: dict[str, Callable[[], dict[str, Any]]]
) -> type[OpenApiViewExtension]:
    """An extension documenting ``dotted``'s methods with their schemas (built lazily)."""

    def view_replacement(self: OpenApiViewExtension) -> type[Any]:
        view = self.target_class  # loaded by now: a class, not its dotted path
        assert isinstance(view, type)
        return _documented(view, {method: build() for method, build in schemas.items()})

    name = dotted.rpartition(".")[2] + "Schema"
    attributes = {"target_class": dotted, "view_replacement": view_replacement, "optional": True}
    return type(name, (OpenApiViewExtension,), attributes)


VIEW_SCHEMAS: dict[str, dict[str, Callable[[], dict[str, Any]]]] = {
    "django_tokenkit.views.tokens.TokenObtainView": {
        "post": lambda: {
            "request": LoginSerializer,
            "responses": {200: PairSerializer, **error_responses(400, 401, 403, 429, 503)},
            "summary": "Log in: exchange credentials for a token pair",
            "auth": [],
        },
    },
    "django_tokenkit.views.tokens.TokenRefreshView": {
        "post": lambda: {
            "request": RefreshSerializer if cookies.enabled() else RequiredRefreshSerializer,
            "responses": {200: PairSerializer, **error_responses(400, 401, 403, 503)},
            "summary": "Exchange a refresh token for a new pair",
            "auth": [],
        },
    },
    "django_tokenkit.views.tokens.LogoutView": {
        "post": lambda: {
            "request": LogoutSerializer,
            "responses": {
                204: OpenApiResponse(description="The presented tokens' sessions ended."),
                **error_responses(400, 401, 403, 503),
            },
            "summary": "End the sessions of the presented tokens, or all of them",
            # The bearer header is optional: a refresh token in the body is enough.
            "auth": [{JWT_SCHEME: []}, {}],
        },
    },
    "django_tokenkit.views.sessions.SessionListView": {
        "get": lambda: {
            "responses": {200: SessionSerializer(many=True), **error_responses(401, 503)},
            "summary": "List the caller's active sessions",
        },
    },
    "django_tokenkit.views.sessions.SessionDetailView": {
        "delete": lambda: {
            "responses": {
                204: OpenApiResponse(description="The session is revoked."),
                **error_responses(401, 404, 503),
            },
            "summary": "Revoke one of the caller's sessions",
        },
    },
    "django_tokenkit.views.rfc.TokenRevokeView": {
        "post": lambda: {
            "request": TokenFormSerializer,
            "responses": {
                200: OpenApiResponse(description="Revoked, or nothing to revoke (RFC 7009)."),
                **error_responses(400, 503),
            },
            "summary": "Revoke a token (RFC 7009)",
            "auth": [],
        },
    },
    "django_tokenkit.views.rfc.TokenIntrospectView": {
        "post": lambda: {
            "request": TokenFormSerializer,
            "responses": {
                200: IntrospectionSerializer,
                **error_responses(400, 401, 403, 503),
            },
            "summary": "Introspect a token (RFC 7662)",
        },
    },
    "django_tokenkit.views.jwks.JWKSView": {
        "get": lambda: {
            "responses": {
                200: OpenApiResponse(
                    JWKS_SCHEMA, description="The public keys (RFC 7517), cacheable."
                ),
                **error_responses(404),
            },
            "summary": "The public signing keys, for services that verify tokens",
            "auth": [],
        },
    },
    "django_tokenkit.views.api_tokens.APITokenListView": {
        "get": lambda: {
            "responses": {200: APITokenPageSerializer, **error_responses(401, 403, 404, 503)},
            "summary": "List the caller's live API tokens, newest first",
            "auth": [{JWT_SCHEME: []}],
        },
        "post": lambda: {
            "request": APITokenCreateSerializer,
            "responses": {
                201: APITokenSecretSerializer,
                **error_responses(400, 401, 403, 409, 503),
            },
            "summary": "Create an API token; the token is in this answer only",
            "auth": [{JWT_SCHEME: []}],
        },
    },
    "django_tokenkit.views.api_tokens.APITokenDetailView": {
        "delete": lambda: {
            "responses": {
                204: OpenApiResponse(description="The API token is revoked."),
                **error_responses(401, 403, 404, 503),
            },
            "summary": "Revoke one of the caller's API tokens",
            "auth": [{JWT_SCHEME: []}],
        },
    },
    "django_tokenkit.views.api_tokens.APITokenRotateView": {
        "post": lambda: {
            "request": APITokenRotateSerializer,
            "responses": {
                201: APITokenSecretSerializer,
                **error_responses(400, 401, 403, 404, 503),
            },
            "summary": "Replace an API token; the old one ends after the grace period",
            "auth": [{JWT_SCHEME: []}],
        },
    },
}

#: The registered extensions, by view path (defining them registered them).
VIEW_EXTENSIONS = {
    dotted: _view_extension(dotted, schemas) for dotted, schemas in VIEW_SCHEMAS.items()
}
