"""What several lifecycles need and none of them owns; it writes nothing."""

from __future__ import annotations

import uuid


def session_uuid(sid: str) -> uuid.UUID | None:
    """The primary key a token's ``sid`` claim names, or None when it cannot name one."""
    try:
        return uuid.UUID(sid)
    except ValueError:
        return None
