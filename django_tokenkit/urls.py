"""Mount with ``path("api/auth/", include("django_tokenkit.urls"))``."""

from __future__ import annotations

from django.urls import path

from django_tokenkit.views import api_tokens, jwks, rfc, sessions, tokens

app_name = "tokenkit"

urlpatterns = [
    path("token/", tokens.TokenObtainView.as_view(), name="token_obtain"),
    path("token/refresh/", tokens.TokenRefreshView.as_view(), name="token_refresh"),
    path("logout/", tokens.LogoutView.as_view(), name="logout"),
    path("sessions/", sessions.SessionListView.as_view(), name="session_list"),
    path(
        "sessions/<uuid:session_id>/", sessions.SessionDetailView.as_view(), name="session_detail"
    ),
    # <str:...>, not <uuid:...>: a malformed id gets the JSON 404 the view
    # answers, not the resolver's HTML one.
    path("api-tokens/", api_tokens.APITokenListView.as_view(), name="api_token_list"),
    path(
        "api-tokens/<str:token_id>/",
        api_tokens.APITokenDetailView.as_view(),
        name="api_token_detail",
    ),
    path(
        "api-tokens/<str:token_id>/rotate/",
        api_tokens.APITokenRotateView.as_view(),
        name="api_token_rotate",
    ),
    path("revoke/", rfc.TokenRevokeView.as_view(), name="token_revoke"),
    path("introspect/", rfc.TokenIntrospectView.as_view(), name="token_introspect"),
    path(".well-known/jwks.json", jwks.JWKSView.as_view(), name="jwks"),
]
