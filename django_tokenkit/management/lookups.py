"""What the management commands look up from their arguments: users, with clear errors."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.management.base import CommandError

from django_tokenkit import users


def find_user(identifier: str) -> AbstractBaseUser:
    """The user whose username is ``identifier``, or else whose primary key it is.

    Raises ``CommandError`` when there is none.
    """
    if "\x00" in identifier:
        # No username or key has one, and PostgreSQL refuses it in a query.
        raise CommandError(f"No user with username or primary key {identifier!r}.")
    manager = get_user_model()._default_manager
    user: AbstractBaseUser | None = manager.filter(
        **{get_user_model().USERNAME_FIELD: identifier}
    ).first()
    if user is None:
        pk = users.coerce_pk(identifier)
        if isinstance(pk, int) and not -(2**63) <= pk < 2**63:
            pk = None  # past any integer column: "no such user", not a database error
        user = manager.filter(pk=pk).first() if pk is not None else None
    if user is None:
        raise CommandError(f"No user with username or primary key {identifier!r}.")
    return user
