"""Mount with ``path("api/auth/", include("django_tokenkit.urls"))``."""

from __future__ import annotations

from django.urls import path

from django_tokenkit.views import jwks, sessions, tokens

app_name = "tokenkit"

urlpatterns = [
    path("token/", tokens.TokenObtainView.as_view(), name="token_obtain"),
    path("token/refresh/", tokens.TokenRefreshView.as_view(), name="token_refresh"),
    path("logout/", tokens.LogoutView.as_view(), name="logout"),
    path("sessions/", sessions.SessionListView.as_view(), name="session_list"),
    path(
        "sessions/<uuid:session_id>/", sessions.SessionDetailView.as_view(), name="session_detail"
    ),
    path(".well-known/jwks.json", jwks.JWKSView.as_view(), name="jwks"),
]
