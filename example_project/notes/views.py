"""The notes API: list, create, retrieve, update and delete your own notes."""

from __future__ import annotations

from django.db.models import QuerySet
from rest_framework import viewsets
from rest_framework.permissions import SAFE_METHODS, IsAuthenticated
from rest_framework.request import Request

from django_tokenkit.permissions import HasScopes
from notes.models import Note
from notes.serializers import NoteSerializer


class NoteViewSet(viewsets.ModelViewSet[Note]):
    """CRUD over the requesting user's notes.

    The queryset is filtered by owner rather than checked per object, so
    another user's note is a 404, not a 403: the API never confirms that a
    note id exists for someone else. Authentication comes from the
    ``REST_FRAMEWORK`` defaults.

    An API token that carries scopes needs ``notes:read`` to read and
    ``notes:write`` to create, change or delete (403 ``insufficient_scope``
    otherwise); a token without scopes, and a session's access token, may do
    both.
    """

    serializer_class = NoteSerializer
    permission_classes = [IsAuthenticated, HasScopes]

    def get_required_scopes(self, request: Request) -> list[str]:
        return ["notes:read"] if request.method in SAFE_METHODS else ["notes:write"]

    def get_queryset(self) -> QuerySet[Note]:
        if getattr(self, "swagger_fake_view", False):
            # drf-spectacular asks for the queryset's model with no user.
            return Note.objects.none()
        return Note.objects.filter(owner=self.request.user)

    def perform_create(self, serializer: NoteSerializer) -> None:  # type: ignore[override]
        # mypy: DRF's stub types the argument as BaseSerializer[Note].
        serializer.save(owner=self.request.user)
