"""Mount with ``path("api/auth/", include("django_tokenkit.urls"))``."""

from __future__ import annotations

from django.urls import path

from django_tokenkit import views

app_name = "tokenkit"

urlpatterns = [
    path("token/", views.TokenObtainView.as_view(), name="token_obtain"),
    path("token/refresh/", views.TokenRefreshView.as_view(), name="token_refresh"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("sessions/", views.SessionListView.as_view(), name="session_list"),
    path("sessions/<uuid:session_id>/", views.SessionDetailView.as_view(), name="session_detail"),
]
