"""Custom-claims hooks the tests point TOKENKIT["CUSTOM_CLAIMS"] at."""

from __future__ import annotations

from typing import Any

#: What :func:`role_claims` answers; a test changes it to prove claims are carried.
ROLE = {"value": "editor"}
NOT_CALLABLE = 42


def role_claims(user: Any) -> dict[str, Any]:
    """A typical hook: a role and the username."""
    return {"role": ROLE["value"], "username": user.get_username()}


def reserved_claims(user: Any) -> dict[str, Any]:
    """Tries to set ``sub``, which tokenkit owns."""
    return {"sub": "someone-else", "role": "admin"}


def not_json(user: Any) -> dict[str, Any]:
    return {"when": object()}


def not_a_dict(user: Any) -> list[str]:
    return ["role"]


def needs_saved_user(user: Any) -> dict[str, Any]:
    """Reads a relation, which an unsaved user cannot: the system check stays silent."""
    return {"groups": sorted(group.name for group in user.groups.all())}
