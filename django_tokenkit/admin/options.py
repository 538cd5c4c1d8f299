"""The base of tokenkit's admin pages: read-only rows, revocation, and scale.

Nothing on these pages edits a row: sessions, issued tokens and blacklist
entries are records of what happened, so there is no add form, no change form
and no delete. The one thing an administrator does here is revoke, and every
revocation (the changelist actions of :mod:`~django_tokenkit.admin.actions`,
the buttons on the detail pages, the User admin's action) goes through
:mod:`django_tokenkit.services`, so it fires the same ``token_revoked``
signal and clears the same cache keys as a logout, and takes effect on the
next request on every process.

The changelists are built for tables of millions of rows: related rows come
in the page's one query (``list_select_related``), no total is counted beside
the filtered one (``show_full_result_count = False``), the paginator reads
PostgreSQL's row estimate instead of running ``COUNT(*)`` over a whole large
table (:mod:`~django_tokenkit.admin.pagination`), every filter either needs
no query to draw or one by primary key (:mod:`~django_tokenkit.admin.filters`),
and search matches users through their own table or an id exactly, never
with a ``LIKE`` over the token table (:mod:`~django_tokenkit.admin.search`).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import django
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.utils import quote, unquote
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import QuerySet
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
)
from django.urls import URLPattern, path, reverse
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from django_tokenkit.admin.actions import RevokeChoice, revoke_session, revoke_user, user_choice
from django_tokenkit.admin.pagination import EstimatedCountPaginator
from django_tokenkit.admin.search import (
    MAX_SEARCH_TERM_LENGTH,
    MAX_SEARCH_TERMS,
    matching_users,
    search_terms,
)
from django_tokenkit.admin.utils import can_revoke, status_badge
from django_tokenkit.models import Session, TokenStatus

_M = TypeVar("_M", bound=models.Model)

if TYPE_CHECKING:
    from django.utils.functional import _StrOrPromise

    _ModelAdmin = admin.ModelAdmin
else:
    # ModelAdmin is generic only in django-stubs; at run time it cannot be subscripted.
    class _ModelAdmin(admin.ModelAdmin, Generic[_M]):
        pass


if django.VERSION >= (5, 0):
    # Facet counts run one aggregate per filter choice over the whole table.
    _NO_FACETS: Any = admin.ShowFacets.NEVER
else:  # pragma: no cover - Django 4.2 has no facets
    _NO_FACETS = None

logger = logging.getLogger(__name__)


class RevocationAdmin(_ModelAdmin[_M]):
    """What every tokenkit admin page shares: read-only rows, revocation, scale.

    Rows are never added, edited or deleted here (``has_change_permission``
    is False, so Django draws every page read-only with a "Close" button).
    Revoking needs the model's *change* permission; see :meth:`has_revoke_permission`.
    """

    paginator = EstimatedCountPaginator
    show_full_result_count = False
    show_facets = _NO_FACETS
    list_per_page = 50
    change_form_template = "admin/tokenkit/change_form.html"
    change_list_template = "admin/tokenkit/change_list.html"
    # -- permissions

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: _M | None = None) -> bool:
        return False

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        """Revoking needs the model's change permission: it is the only change there is."""
        return can_revoke(request, self.model)

    # Deleting stays allowed as far as Django's permission check goes, because
    # deleting a *user* in the admin collects their sessions and asks this
    # model's admin whether it may; refusing would make users undeletable.
    # Deleting a row from these pages is switched off below instead.

    def get_actions(self, request: HttpRequest, *args: Any, **kwargs: Any) -> dict[str, Any]:
        actions = super().get_actions(request, *args, **kwargs)
        actions.pop("delete_selected", None)
        return actions

    def delete_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        raise PermissionDenied

    # -- ids and search: what the URL and the forms send, checked before any query

    def parse_object_id(self, object_id: str) -> Any | None:
        """The primary key ``object_id`` spells, or None when no row can have it.

        Ids arrive from URLs and forms: one that cannot be a key (a NUL byte,
        which PostgreSQL refuses with an error, or a malformed UUID) must
        read as "no such row" before it reaches the database.
        """
        raise NotImplementedError

    def get_object(
        self, request: HttpRequest, object_id: str, from_field: str | None = None
    ) -> _M | None:
        """None for an id :meth:`parse_object_id` rejects, as for a missing row.

        The change, history and revoke views then answer as Django's admin
        does for a row that does not exist.
        """
        pk = self.model._meta.pk
        assert pk is not None
        if from_field in (None, pk.name, pk.attname) and self.parse_object_id(object_id) is None:
            return None
        return super().get_object(request, object_id, from_field)

    def get_changelist_instance(self, request: HttpRequest) -> ChangeList:
        # A NUL byte in a filter's value is a DataError on PostgreSQL. As an
        # invalid lookup, Django's changelist redirects to "?e=1" instead.
        if any(
            "\x00" in key or any("\x00" in value for value in values)
            for key, values in request.GET.lists()
        ):
            raise IncorrectLookupParameters("A NUL character in the query string.")
        return super().get_changelist_instance(request)

    def response_action(
        self, request: HttpRequest, queryset: QuerySet[Any], *args: Any, **kwargs: Any
    ) -> HttpResponse | None:
        """Run an action on the ticked rows, after dropping ids no row can have.

        Django filters ``pk__in`` the ticked ids as sent, and a malformed
        one fails in the database; dropped here, it selects nothing, like an
        id whose row is gone.
        """
        selected = request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)
        well_formed = [pk for pk in selected if self.parse_object_id(pk) is not None]
        if len(well_formed) != len(selected):
            post = request.POST.copy()
            post.setlist(helpers.ACTION_CHECKBOX_NAME, well_formed)
            # The stubs type POST as immutable; the confirmation page and
            # Django's action code read the ticked ids from it after this.
            request.POST = post  # type: ignore[assignment]
        return super().response_action(request, queryset, *args, **kwargs)

    def filter_by_users(self, queryset: QuerySet[_M], users: QuerySet[Any]) -> QuerySet[_M]:
        """Narrow ``queryset`` to the rows of ``users`` (a subquery of user pks)."""
        narrowed: QuerySet[_M] = queryset.filter(user__in=users)
        return narrowed

    def warn_search_bounded(self, request: HttpRequest) -> None:
        """Tell the user that words of their search were ignored or cut."""
        self.message_user(
            request,
            _(
                "Only the first %(count)d words of a search are used, and the first "
                "%(length)d characters of each: the rest was ignored."
            )
            % {"count": MAX_SEARCH_TERMS, "length": MAX_SEARCH_TERM_LENGTH},
            messages.WARNING,
        )

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[_M], bool]:
        """Exact ids find their rows; the other words find users, all of them in one subquery.

        A word that is the id of a row (one primary-key query for all the
        words) finds that row; several such words find each of them. The
        remaining words must all appear in the username or email of the
        row's user. A ``LIKE`` on the session or token table, or an ``OR``
        between ids and a user match, would make PostgreSQL read the whole
        table; this way a search is an index lookup (the primary key, or the
        user index), and its SQL has the same shape however many words were
        typed: at most :data:`MAX_SEARCH_TERMS` are used (the page says when
        words were ignored or cut).
        """
        terms = search_terms(search_term)
        if terms.bounded:
            self.warn_search_bounded(request)
        parsed = {word: self.parse_object_id(word) for word in terms.words}
        ids = [pk for pk in parsed.values() if pk is not None]
        found = set(queryset.filter(pk__in=ids).values_list("pk", flat=True)) if ids else set()
        words = [word for word, pk in parsed.items() if pk is None or pk not in found]
        if found:
            queryset = queryset.filter(pk__in=found)
        if words:
            queryset = self.filter_by_users(queryset, matching_users(words))
        return queryset, False

    # -- the detail page's revoke buttons

    def get_urls(self) -> list[URLPattern]:
        opts = self.model._meta
        return [
            path(
                "<path:object_id>/revoke/",
                self.admin_site.admin_view(self.revoke_view),
                name=f"{opts.app_label}_{opts.model_name}_revoke",
            ),
            *super().get_urls(),
        ]

    #: The label and help of the "revoke its session" button, shown while
    #: :meth:`session_of` is active; None for a page without one.
    session_choice: tuple[_StrOrPromise, _StrOrPromise] | None = None

    def session_of(self, obj: _M) -> Session | None:
        """The session ``obj`` belongs to (or is), for the "session" button."""
        return None

    def user_id_of(self, obj: _M) -> Any:
        """The primary key of ``obj``'s user, for the "user" button; None without one."""
        return None

    def revoke_choices(self, obj: _M) -> list[RevokeChoice]:
        """The revoke buttons ``obj``'s page offers, given its current state.

        Here: its session's, while that is active, and its user's. A page
        with a scope of its own adds its button and handles it in
        :meth:`perform_revoke` before calling this class's.
        """
        choices = []
        session = self.session_of(obj)
        if (
            self.session_choice is not None
            and session is not None
            and session.status() == TokenStatus.ACTIVE
        ):
            label, help_text = self.session_choice
            choices.append(RevokeChoice("session", str(label), str(help_text)))
        return choices + user_choice(self.user_id_of(obj))

    def perform_revoke(self, request: HttpRequest, obj: _M, scope: str) -> str:
        """Revoke ``scope`` ("session" or "user") of ``obj``; the message to show."""
        if scope == "user":
            return revoke_user(self.user_id_of(obj))
        if scope == "session":
            return revoke_session(self.session_of(obj))
        raise ValueError(f"No revoke scope {scope!r} on this page.")

    def revoke_view(self, request: HttpRequest, object_id: str) -> HttpResponseBase:
        """POST-only (CSRF-checked by ``admin_view``): revoke, then back to the page."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_revoke_permission(request):
            raise PermissionDenied
        opts = self.model._meta
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            self.message_user(
                request,
                _("%(name)s with ID “%(key)s” doesn’t exist.")
                % {"name": opts.verbose_name, "key": unquote(object_id)},
                messages.WARNING,
            )
            return HttpResponseRedirect(
                reverse(f"{self.admin_site.name}:{opts.app_label}_{opts.model_name}_changelist")
            )
        scope = request.POST.get("scope", "")
        if scope in {choice.scope for choice in self.revoke_choices(obj)}:
            message = self.perform_revoke(request, obj, scope)
            logger.info(
                "Admin user %s revoked the %s of %s %s.",
                request.user.pk,
                scope,
                opts.model_name,
                obj.pk,
            )
            # Shown in the object's history, like any change made in the admin.
            self.log_change(request, obj, message)
            self.message_user(request, message, messages.SUCCESS)
        else:
            self.message_user(request, _("Nothing was revoked."), messages.WARNING)
        return HttpResponseRedirect(
            reverse(
                f"{self.admin_site.name}:{opts.app_label}_{opts.model_name}_change",
                args=[quote(obj.pk)],
            )
        )

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: _M | None = None,
    ) -> HttpResponse:
        context["show_delete"] = False
        if obj is not None:
            opts = self.model._meta
            context["tokenkit_status"] = self.status(obj)
            context["tokenkit_can_revoke"] = self.has_revoke_permission(request)
            context["tokenkit_revoke_choices"] = self.revoke_choices(obj)
            context["tokenkit_revoke_url"] = reverse(
                f"{self.admin_site.name}:{opts.app_label}_{opts.model_name}_revoke",
                args=[quote(obj.pk)],
            )
        return super().render_change_form(request, context, add, change, form_url, obj)

    @admin.display(description=_("status"))
    def status(self, obj: _M) -> SafeString:
        """The row's status badge, by the model's own ``status()`` rule."""
        status: str = obj.status()  # type: ignore[attr-defined]  # every tokenkit model has one
        return status_badge(status)
