"""Admin for notes, so the superuser can see what the demo user wrote."""

from __future__ import annotations

from django.contrib import admin

from notes.models import Note


@admin.register(Note)
class NoteAdmin(admin.ModelAdmin):
    list_display = ["title", "owner", "created", "updated"]
    list_filter = ["created"]
    search_fields = ["title", "body", "owner__username"]
    list_select_related = ["owner"]
    raw_id_fields = ["owner"]
