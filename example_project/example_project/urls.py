"""URL configuration of the example project.

``/api/auth/`` is where the package's views live (SPEC section 5); the rest
is the demo: the single-page demo at ``/``, ``/api/me/``, the per-user notes
API, the OpenAPI schema (``/api/schema/``) with Swagger UI (``/api/docs/``)
and the admin.
"""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from example_project.views import LandingView, MeView

urlpatterns = [
    path("", LandingView.as_view(), name="landing"),
    path("admin/", admin.site.urls),
    path("api/auth/", include("django_tokenkit.urls")),
    path("api/me/", MeView.as_view(), name="me"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/", include("notes.urls")),
]
