"""The notes API: list, create, retrieve, update and delete your own notes."""

from __future__ import annotations

from django.db.models import QuerySet
from rest_framework import viewsets

from notes.models import Note
from notes.serializers import NoteSerializer


class NoteViewSet(viewsets.ModelViewSet[Note]):
    """CRUD over the requesting user's notes.

    The queryset is filtered by owner rather than checked per object, so
    another user's note is a 404, not a 403: the API never confirms that a
    note id exists for someone else. Authentication and the IsAuthenticated
    permission come from ``REST_FRAMEWORK`` defaults.
    """

    serializer_class = NoteSerializer

    def get_queryset(self) -> QuerySet[Note]:
        if getattr(self, "swagger_fake_view", False):
            # drf-spectacular asks for the queryset's model with no user.
            return Note.objects.none()
        return Note.objects.filter(owner=self.request.user)

    def perform_create(self, serializer: NoteSerializer) -> None:  # type: ignore[override]
        # mypy: DRF's stub types the argument as BaseSerializer[Note].
        serializer.save(owner=self.request.user)
