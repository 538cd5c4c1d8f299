"""Request validation and representation of notes."""

from __future__ import annotations

from rest_framework import serializers

from notes.models import Note


class NoteSerializer(serializers.ModelSerializer[Note]):
    """A note as the API shows it; the owner is implied by the token, never sent."""

    class Meta:
        model = Note
        fields = ["id", "title", "body", "created", "updated"]
        read_only_fields = ["id", "created", "updated"]
