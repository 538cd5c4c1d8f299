"""Routes of the notes API, mounted under ``/api/`` by the project."""

from __future__ import annotations

from rest_framework.routers import SimpleRouter

from notes.views import NoteViewSet

# SimpleRouter, not DefaultRouter: no API root view competing for /api/.
router = SimpleRouter()
router.register("notes", NoteViewSet, basename="note")

urlpatterns = router.urls
