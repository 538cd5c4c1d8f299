"""The list filters: statuses by each model's own rule, and one related row by id.

Every filter here is cheap to draw at a million rows: the status filter
needs no query, and the by-id filters at most one, by primary key.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from django_tokenkit.admin.utils import USER_PARAMETER
from django_tokenkit.models import StatusQuerySet, TokenStatus


class StatusFilter(admin.SimpleListFilter):
    """Rows by :class:`~django_tokenkit.models.TokenStatus`, by the model's own rule.

    It offers the statuses the model's queryset lists
    (:attr:`StatusQuerySet.statuses <django_tokenkit.models.StatusQuerySet.statuses>`)
    and narrows with its ``with_status()``, so "active" here is exactly
    ``Session.objects.active()``. A fixed list: drawing it costs no query.
    """

    title = _("status")
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        # Building a queryset runs no query.
        queryset = model_admin.model._default_manager.all()
        statuses: tuple[str, ...] = getattr(queryset, "statuses", ())
        return [(status, TokenStatus(status).label) for status in statuses]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any] | None:
        value = self.value()
        if not isinstance(queryset, StatusQuerySet) or value not in queryset.statuses:
            return queryset
        narrowed: QuerySet[Any] = queryset.with_status(str(value))
        return narrowed


class ByIdFilter(admin.SimpleListFilter):
    """Narrows the list to one related row given in the query string.

    It offers no choices of its own (listing every user or session would be
    the expensive query this admin avoids) and appears only while in use,
    showing the chosen row so the filter can be cleared. It is how the User
    admin's link and the session page's link open a filtered list.
    """

    #: The lookup the chosen primary key is matched with, e.g. ``"session__user"``.
    lookup: str = ""

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        value = self.value()
        if value is None:
            return []
        pk = self.to_python(str(value))
        label = self.label(pk) if pk is not None else None
        return [(str(value), label or str(value))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any] | None:
        value = self.value()
        if value is None:
            return queryset
        pk = self.to_python(str(value))
        if pk is None:
            raise IncorrectLookupParameters(f"Invalid {self.parameter_name}.")
        narrowed: QuerySet[Any] = queryset.filter(**{self.lookup: pk})
        return narrowed

    def to_python(self, value: str) -> Any:
        """The primary key ``value`` spells, or None when no row can have it."""
        raise NotImplementedError

    def label(self, pk: Any) -> str | None:
        """How the chosen row is named in the filter."""
        raise NotImplementedError


class UserFilter(ByIdFilter):
    """Rows of one user: ``?user=<pk>``."""

    title = _("user")
    parameter_name = USER_PARAMETER
    lookup = "user"

    def to_python(self, value: str) -> Any:
        field = get_user_model()._meta.pk
        assert field is not None
        try:
            return field.to_python(value)
        except ValidationError:
            return None

    def label(self, pk: Any) -> str | None:
        user = get_user_model()._default_manager.filter(pk=pk).first()
        return None if user is None else str(user)


class TokenUserFilter(UserFilter):
    """Issued tokens of one user, through their sessions."""

    lookup = "session__user"


class SessionFilter(ByIdFilter):
    """Rows of one session: ``?session=<uuid>``."""

    title = _("session")
    parameter_name = "session"
    lookup = "session"

    def to_python(self, value: str) -> Any:
        try:
            return uuid.UUID(value)
        except ValueError:
            return None

    def label(self, pk: Any) -> str | None:
        return str(pk)
