"""Scope checks for API tokens (SPEC section 6, "Scopes"), and views closed to them.

A view lists the scopes it needs; :class:`HasScopes` refuses an API token
that carries scopes but not those, with a 403 ``insufficient_scope`` and the
RFC 6750 section 3.1 challenge naming them. A token with no scopes has its
user's full rights, and a session's access token passes every scope check:
scopes narrow what a script's token may do, they never widen a user's
rights, so combine this class with your usual permissions.

:class:`DenyAPITokens` closes a view to API tokens altogether (403
``api_token_not_allowed``): tokenkit's ``api-tokens/`` endpoints use it, so
a leaked script token cannot mint, list, rotate or revoke tokens.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from django_tokenkit.api_token_store import APITokenCredential
from django_tokenkit.conf import tokenkit_settings


class InsufficientScope(PermissionDenied):
    """403 ``insufficient_scope``; its ``auth_header`` becomes ``WWW-Authenticate``.

    DRF's exception handler sets ``WWW-Authenticate`` from ``auth_header``
    on any status, which is how a 403 carries the challenge RFC 6750 asks for.
    """

    def __init__(self, missing: Sequence[str]) -> None:
        names = " ".join(missing)
        detail = f"This API token lacks the scope(s) this request needs: {names}."
        super().__init__({"detail": detail, "code": "insufficient_scope"})
        realm = tokenkit_settings.www_authenticate_realm
        self.auth_header = (
            f'Bearer realm="{realm}", error="insufficient_scope", '
            f'error_description="The token lacks a required scope.", scope="{names}"'
        )


def required_scopes(request: Request, view: Any) -> list[str]:
    """The scopes ``view`` needs for ``request``.

    ``view.get_required_scopes(request)`` when the view defines it (to ask
    for different scopes per method), else ``view.required_scopes``.
    """
    getter = getattr(view, "get_required_scopes", None)
    scopes = getter(request) if callable(getter) else getattr(view, "required_scopes", ())
    return [str(scope) for scope in scopes or ()]


class HasScopes(BasePermission):
    """Refuse an API token without every scope the view requires."""

    def has_permission(self, request: Request, view: Any) -> bool:
        credential = request.auth
        if not isinstance(credential, APITokenCredential) or not credential.scopes:
            return True  # a session token, another scheme, or a token with full rights
        missing = [name for name in required_scopes(request, view) if name not in credential.scopes]
        if missing:
            raise InsufficientScope(missing)
        return True


class APITokenNotAllowed(PermissionDenied):
    """403 ``api_token_not_allowed``: this view needs a session's access token."""

    def __init__(self) -> None:
        super().__init__(
            {
                "detail": "API tokens cannot be used here; sign in and use an access token.",
                "code": "api_token_not_allowed",
            }
        )


class DenyAPITokens(BasePermission):
    """Refuse requests authenticated by an API token, whatever its scopes.

    Put ``APITokenAuthentication`` among the view's authentication classes
    too: the token must be recognised to be refused with this 403 rather
    than ignored into a 401 ``not_authenticated``.
    """

    def has_permission(self, request: Request, view: Any) -> bool:
        if isinstance(request.auth, APITokenCredential):
            raise APITokenNotAllowed()
        return True


#: The model permission that allows ``introspect/`` (Django's ``app_label.codename``).
INTROSPECT_PERMISSION = "tokenkit.introspect_token"
#: The API-token scope that allows ``introspect/`` (it must be in ``API_TOKEN_SCOPES``).
INTROSPECTION_SCOPE = "introspection"


class CanIntrospectTokens(BasePermission):
    """Who may call ``introspect/``: SPEC section 5.

    - an API token whose scopes include ``introspection`` (while that scope
      is still in ``API_TOKEN_SCOPES``): a service account's token needs no
      model permission;
    - an API token with other scopes only: 403 ``insufficient_scope``;
    - otherwise (a session's access token, an API token without scopes) the
      user needs the ``tokenkit.introspect_token`` permission, or is a
      superuser: 403 ``permission_denied`` without it.

    Anonymous requests get DRF's 401 ``not_authenticated``.
    """

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        credential = request.auth
        if isinstance(credential, APITokenCredential) and credential.scopes:
            granted = INTROSPECTION_SCOPE in credential.scopes
            if granted and INTROSPECTION_SCOPE in tokenkit_settings.api_token_scopes:
                return True
            raise InsufficientScope([INTROSPECTION_SCOPE])
        if user.has_perm(INTROSPECT_PERMISSION):
            return True
        raise PermissionDenied(
            {
                "detail": "You need the permission to introspect tokens.",
                "code": "permission_denied",
            }
        )
