from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from tests.testapp import views
from tests.testapp.admin import opted_in_site

urlpatterns = [
    path("admin/", admin.site.urls),
    path("opted-in-admin/", opted_in_site.urls),
    path("api/auth/", include("django_tokenkit.urls")),
    path("api/whoami/", views.WhoAmIView.as_view(), name="whoami"),
    path("api/me/", views.PlainHandlerView.as_view(), name="me"),
    path("api/rejecting/", views.RejectingView.as_view(), name="rejecting"),
    path("api/public/", views.PublicView.as_view(), name="public"),
    path("api/session-only/", views.SessionOnlyView.as_view(), name="session-only"),
    path("api/scoped/", views.ScopedView.as_view(), name="scoped"),
    path("api/remote-whoami/", views.RemoteWhoAmIView.as_view(), name="remote-whoami"),
]
