"""``GET /api/me/`` for every contender, and the refresh endpoints of the race."""

from __future__ import annotations

from django.urls import include, path
from rest_framework_simplejwt.views import TokenRefreshView

from benchmarks.project.views import MeView

urlpatterns = [
    path("api/me/", MeView.as_view(), name="me"),
    path("api/auth/", include("django_tokenkit.urls")),
    path("simplejwt/token/refresh/", TokenRefreshView.as_view(), name="simplejwt_refresh"),
]
