from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from tests.testapp.views import WhoAmIView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/auth/", include("django_tokenkit.urls")),
    path("api/whoami/", WhoAmIView.as_view(), name="whoami"),
]
