"""Thin HTTP views over :mod:`django_tokenkit.services` (SPEC section 5).

- :mod:`~django_tokenkit.views.base`: the base view every endpoint shares,
  the exception handler and the pair response;
- :mod:`~django_tokenkit.views.tokens`: obtain, refresh, logout;
- :mod:`~django_tokenkit.views.sessions`: the user's own sessions;
- :mod:`~django_tokenkit.views.api_tokens`: the user's own API tokens.
- :mod:`~django_tokenkit.views.rfc`: RFC 7009 revocation, RFC 7662 introspection.
- :mod:`~django_tokenkit.views.jwks`: the public keys, as a JWKS.

``django_tokenkit.views.exception_handler`` is the dotted path to put in
``REST_FRAMEWORK["EXCEPTION_HANDLER"]``; the view classes are importable from
here too. :mod:`django_tokenkit.urls` names every route.
"""

from __future__ import annotations

from django_tokenkit.views.api_tokens import (
    APITokenDetailView,
    APITokenListView,
    APITokenRotateView,
)
from django_tokenkit.views.base import TokenkitAPIView, exception_handler, pair_response
from django_tokenkit.views.jwks import JWKSView
from django_tokenkit.views.rfc import TokenIntrospectView, TokenRevokeView
from django_tokenkit.views.sessions import SessionDetailView, SessionListView
from django_tokenkit.views.tokens import LogoutView, TokenObtainView, TokenRefreshView

__all__ = [
    "APITokenDetailView",
    "APITokenListView",
    "APITokenRotateView",
    "JWKSView",
    "LogoutView",
    "SessionDetailView",
    "SessionListView",
    "TokenIntrospectView",
    "TokenObtainView",
    "TokenRefreshView",
    "TokenRevokeView",
    "TokenkitAPIView",
    "exception_handler",
    "pair_response",
]
