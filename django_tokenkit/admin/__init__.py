"""Admin pages to inspect and revoke sessions and tokens (SPEC section 6, "Admin").

Nothing on these pages edits a row: sessions, issued tokens and blacklist
entries are records of what happened, so there is no add form, no change form
and no delete. The one thing an administrator does here is revoke, and every
revocation (the changelist actions, the buttons on the detail pages, the User
admin's action) goes through :mod:`django_tokenkit.services`, so it fires the
same ``token_revoked`` signal and clears the same cache keys as a logout, and
takes effect on the next request on every process.

The changelists are built for tables of millions of rows: related rows come
in the page's one query (``list_select_related``), no total is counted beside
the filtered one (``show_full_result_count = False``), the paginator reads
PostgreSQL's row estimate instead of running ``COUNT(*)`` over a whole large
table, every filter either needs no query to draw or one by primary key, and
search matches users through their own table or an id exactly, never with a
``LIKE`` over the token table.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import django
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.options import IS_POPUP_VAR, IncorrectLookupParameters
from django.contrib.admin.utils import quote, unquote
from django.contrib.admin.views.main import ChangeList
from django.contrib.auth import get_permission_codename, get_user_model
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import FieldDoesNotExist, PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import connections, models
from django.db.models import Count, Q, QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
)
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, URLPattern, path, reverse
from django.utils import timezone
from django.utils.functional import Promise, cached_property
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.text import Truncator, smart_split, unescape_string_literal
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from django_tokenkit import services, tokens
from django_tokenkit.models import BlacklistedToken, IssuedToken, RevokeReason, Session

_M = TypeVar("_M", bound=models.Model)
_P = TypeVar("_P", bound=models.Model)

if TYPE_CHECKING:
    _ModelAdmin = admin.ModelAdmin
    _TabularInline = admin.TabularInline
    _Paginator = Paginator[Any]
    _UserAdminBase = admin.ModelAdmin[Any]
    _StockUserAdmin = UserAdmin[Any]
    _InlineFormSet = BaseInlineFormSet[IssuedToken, Session, Any]
else:
    # ModelAdmin and friends are generic only in django-stubs; at run time
    # they cannot be subscripted.
    class _ModelAdmin(admin.ModelAdmin, Generic[_M]):
        pass

    class _TabularInline(admin.TabularInline, Generic[_M, _P]):
        pass

    _Paginator = Paginator
    _UserAdminBase = object
    _StockUserAdmin = UserAdmin
    _InlineFormSet = BaseInlineFormSet

if django.VERSION >= (5, 0):
    # Facet counts run one aggregate per filter choice over the whole table.
    _NO_FACETS: Any = admin.ShowFacets.NEVER
else:  # pragma: no cover - Django 4.2 has no facets
    _NO_FACETS = None

logger = logging.getLogger(__name__)

#: Rows listed on a confirmation page; the rest are counted, not listed.
CONFIRMATION_LIST_LIMIT = 50
#: Newest tokens shown inline on a session's page.
SESSION_INLINE_LIMIT = 20


# --- counting -----------------------------------------------------------------


class EstimatedCountPaginator(_Paginator):
    """A paginator that does not count a large, unfiltered table row by row.

    On PostgreSQL ``COUNT(*)`` visits every row (MVCC keeps no exact row
    count), which on a million sessions costs more than the rest of the page
    together. So when the queryset has no filter at all, the table's row
    estimate from ``pg_class.reltuples`` (kept current by autovacuum's
    ANALYZE) is used as the count once it reaches :attr:`estimate_threshold`;
    the page then says "about N". Filtered querysets, small tables and other
    databases are counted exactly: a filter narrows the count, and an
    estimate would be wrong precisely there.
    """

    #: Below this many rows (by the estimate) an exact count is cheap enough.
    estimate_threshold = 100_000

    #: True once :attr:`count` returned an estimate rather than an exact count.
    is_estimate = False

    @cached_property
    def count(self) -> int:
        estimate = self._estimate()
        if estimate is not None and estimate >= self.estimate_threshold:
            self.is_estimate = True
            return estimate
        exact: int = super().count
        return exact

    def _estimate(self) -> int | None:
        queryset = self.object_list
        if not isinstance(queryset, QuerySet):
            return None
        query = queryset.query
        if (
            query.where
            or query.distinct
            or query.combinator
            or query.is_sliced
            or query.group_by is not None
        ):
            return None
        connection = connections[queryset.db]
        if connection.vendor != "postgresql":
            return None
        table = connection.ops.quote_name(queryset.model._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute("SELECT reltuples FROM pg_class WHERE oid = to_regclass(%s)", [table])
            row = cursor.fetchone()
        # -1 (PostgreSQL 14+) or 0 means "never analysed": count exactly instead.
        if row is None or row[0] is None or row[0] <= 0:
            return None
        return int(row[0])


# --- statuses -------------------------------------------------------------------

ACTIVE = "active"
EXPIRED = "expired"
REVOKED = "revoked"
ROTATED = "rotated"
IN_FORCE = "in_force"

STATUS_LABELS: dict[str, Promise] = {
    ACTIVE: _("active"),
    EXPIRED: _("expired"),
    REVOKED: _("revoked"),
    ROTATED: _("rotated"),
    IN_FORCE: _("still in force"),
}


def session_status(session: Session, now: datetime | None = None) -> str:
    """``revoked``, ``expired`` (past its absolute cap) or ``active``.

    "Active" is :meth:`SessionQuerySet.active`'s meaning; a session whose
    refresh token expired, or that went idle, is still listed as active
    until its cap, because the database does not record that.
    """
    if session.revoked_at is not None:
        return REVOKED
    if session.expires_at <= (now or timezone.now()):
        return EXPIRED
    return ACTIVE


def issued_token_status(token: IssuedToken, now: datetime | None = None) -> str:
    """``revoked``, ``rotated`` (retired by a refresh), ``expired`` or ``active``."""
    if token.revoked_at is not None:
        return REVOKED
    if token.rotated_at is not None:
        return ROTATED
    if token.expires_at <= (now or timezone.now()):
        return EXPIRED
    return ACTIVE


def blacklist_status(entry: BlacklistedToken, now: datetime | None = None) -> str:
    """``in_force`` while the token would still be valid, then ``expired``."""
    return IN_FORCE if entry.expires_at > (now or timezone.now()) else EXPIRED


def _pair_still_valid(token: IssuedToken) -> bool:
    """Whether the refresh token, or the access token issued with it, has not expired."""
    now = timezone.now()
    access_expires_at = token.access_expires_at
    return token.expires_at > now or (access_expires_at is not None and access_expires_at > now)


def _status_html(code: str) -> SafeString:
    return format_html(
        '<span class="tokenkit-status tokenkit-status-{}">{}</span>', code, STATUS_LABELS[code]
    )


# --- filters --------------------------------------------------------------------


class _StatusFilter(admin.SimpleListFilter):
    """A fixed list of statuses, so drawing it costs no query."""

    title = _("status")
    parameter_name = "status"
    statuses: Sequence[str] = (ACTIVE, EXPIRED, REVOKED)

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [(code, STATUS_LABELS[code]) for code in self.statuses]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any] | None:
        value = self.value()
        if value not in self.statuses:
            return queryset
        narrowed: QuerySet[Any] = queryset.filter(self.condition(str(value), timezone.now()))
        return narrowed

    def condition(self, status: str, now: datetime) -> Q:
        raise NotImplementedError


class SessionStatusFilter(_StatusFilter):
    """Sessions by status; "active" is exactly ``Session.objects.active()``."""

    def condition(self, status: str, now: datetime) -> Q:
        if status == REVOKED:
            return Q(revoked_at__isnull=False)
        if status == EXPIRED:
            return Q(revoked_at__isnull=True, expires_at__lte=now)
        return Q(revoked_at__isnull=True, expires_at__gt=now)


class IssuedTokenStatusFilter(_StatusFilter):
    statuses = (ACTIVE, ROTATED, EXPIRED, REVOKED)

    def condition(self, status: str, now: datetime) -> Q:
        if status == REVOKED:
            return Q(revoked_at__isnull=False)
        if status == ROTATED:
            return Q(revoked_at__isnull=True, rotated_at__isnull=False)
        live = Q(revoked_at__isnull=True, rotated_at__isnull=True)
        if status == EXPIRED:
            return live & Q(expires_at__lte=now)
        return live & Q(expires_at__gt=now)


class BlacklistStatusFilter(_StatusFilter):
    statuses = (IN_FORCE, EXPIRED)

    def condition(self, status: str, now: datetime) -> Q:
        if status == EXPIRED:
            return Q(expires_at__lte=now)
        return Q(expires_at__gt=now)


class _ByIdFilter(admin.SimpleListFilter):
    """Narrows the list to one related row given in the query string.

    It offers no choices of its own (listing every user or session would be
    the expensive query this admin avoids) and appears only while in use,
    showing the chosen row so the filter can be cleared. It is how the User
    admin's link and the session page's link open a filtered list.
    """

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
        raise NotImplementedError

    def label(self, pk: Any) -> str | None:
        raise NotImplementedError


class UserFilter(_ByIdFilter):
    title = _("user")
    parameter_name = "user"
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
    lookup = "session__user"


class SessionFilter(_ByIdFilter):
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


# --- search ---------------------------------------------------------------------


#: The most words a search uses; the rest are ignored, and the page says so.
MAX_SEARCH_TERMS = 5
#: The most characters of a word a search uses: the longest email address
#: Django's ``EmailField`` stores.
MAX_SEARCH_TERM_LENGTH = 254


@dataclass(frozen=True)
class SearchTerms:
    """The words of a search, within :data:`MAX_SEARCH_TERMS` and :data:`MAX_SEARCH_TERM_LENGTH`."""

    words: tuple[str, ...]
    #: True when words were dropped or cut to fit the bounds.
    bounded: bool


def search_terms(search_term: str) -> SearchTerms:
    """The words of a search, quoted phrases kept whole, as Django's admin splits them.

    Only the first :data:`MAX_SEARCH_TERMS` different words are kept, each
    cut to :data:`MAX_SEARCH_TERM_LENGTH` characters: every word is one more
    condition for the database to plan, so an unbounded search could keep a
    worker busy for as long as the query string is long. NUL characters,
    which no stored username, email or id contains, are dropped.
    """
    words: list[str] = []
    bounded = False
    # smart_split is lazy: the words past the bound are never split out.
    for bit in smart_split(search_term.replace("\x00", "")):
        if bit.startswith(('"', "'")) and bit[0] == bit[-1]:
            bit = unescape_string_literal(bit)
        if len(bit) > MAX_SEARCH_TERM_LENGTH:
            bit = bit[:MAX_SEARCH_TERM_LENGTH]
            bounded = True
        if not bit or bit in words:
            continue  # a repeated word asks nothing more
        if len(words) == MAX_SEARCH_TERMS:
            bounded = True
            break
        words.append(bit)
    return SearchTerms(tuple(words), bounded)


def matching_users(terms: Sequence[str]) -> QuerySet[Any]:
    """Primary keys of users whose username or email contains every one of ``terms``.

    One subquery however many terms there are, each term one ``AND``-ed
    condition on the user table.
    """
    user_model = get_user_model()
    email_field = user_model.get_email_field_name()
    try:
        user_model._meta.get_field(email_field)
    except FieldDoesNotExist:
        fields = [user_model.USERNAME_FIELD]
    else:
        fields = list(dict.fromkeys([user_model.USERNAME_FIELD, email_field]))
    condition = Q()
    for term in terms:
        any_field = Q()
        for name in fields:
            any_field |= Q(**{f"{name}__icontains": term})
        condition &= any_field
    pks: QuerySet[Any] = user_model._default_manager.filter(condition).values("pk")
    return pks


# --- revocation helpers -----------------------------------------------------------


@dataclass(frozen=True)
class RevokeChoice:
    """One revoke button on a detail page."""

    scope: str
    label: str
    help: str


def can_revoke(request: HttpRequest, model: type[models.Model] = Session) -> bool:
    """Whether the user may revoke: the change permission of ``model``."""
    opts = model._meta
    return request.user.has_perm(f"{opts.app_label}.{get_permission_codename('change', opts)}")


def _can_view_sessions(request: HttpRequest) -> bool:
    opts = Session._meta
    return any(
        request.user.has_perm(f"{opts.app_label}.{get_permission_codename(action, opts)}")
        for action in ("view", "change")
    )


def _admin_url(site: admin.AdminSite, name: str, *args: Any) -> str | None:
    try:
        return reverse(f"{site.name}:{name}", args=args)
    except NoReverseMatch:
        return None


def render_confirmation(
    model_admin: admin.ModelAdmin[Any],
    request: HttpRequest,
    *,
    title: str,
    question: str,
    headers: Sequence[str],
    rows: Sequence[Sequence[Any]],
    total: int,
    submit_label: str,
) -> TemplateResponse:
    """The page between choosing a revoke action and doing it.

    It lists what will be revoked and posts the same action back with
    ``post=yes``, like Django's "delete selected" confirmation. The ids the
    user ticked (or "select all" and the list's filters, which are in the
    URL) travel along unchanged, so the confirmation never lists a million
    hidden inputs.
    """
    opts = model_admin.model._meta
    request.current_app = model_admin.admin_site.name
    context = {
        **model_admin.admin_site.each_context(request),
        "title": title,
        "subtitle": None,
        "opts": opts,
        "app_label": opts.app_label,
        "question": question,
        "headers": headers,
        "rows": rows,
        "more": max(total - len(rows), 0),
        "action": request.POST.get("action", ""),
        "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
        "select_across": request.POST.get("select_across", "0"),
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "submit_label": submit_label,
        "media": model_admin.media,
    }
    return TemplateResponse(
        request,
        [
            f"admin/{opts.app_label}/{opts.model_name}/tokenkit_revoke_confirmation.html",
            "admin/django_tokenkit/revoke_confirmation.html",
        ],
        context,
    )


def _confirmed(request: HttpRequest) -> bool:
    return request.method == "POST" and request.POST.get("post") == "yes"


def confirm_revoke_users(
    model_admin: admin.ModelAdmin[Any], request: HttpRequest, user_pks: QuerySet[Any]
) -> TemplateResponse | None:
    """Confirm, then revoke every session of the users ``user_pks`` selects.

    ``user_pks`` is a ``values("pk")``-style queryset of user primary keys.
    """
    user_model = get_user_model()
    users = user_model._default_manager.filter(pk__in=user_pks)
    if _confirmed(request):
        pks = list(users.values_list("pk", flat=True))
        count = services.revoke_users(pks, RevokeReason.ADMIN)
        logger.info(
            "Admin user %s revoked all sessions of %d user(s): %d session(s).",
            request.user.pk,
            len(pks),
            count,
        )
        model_admin.message_user(
            request,
            ngettext(
                "Revoked %(sessions)d session of %(users)d user(s).",
                "Revoked %(sessions)d sessions of %(users)d user(s).",
                count,
            )
            % {"sessions": count, "users": len(pks)},
            messages.SUCCESS,
        )
        return None
    now = timezone.now()
    active = Q(tokenkit_sessions__revoked_at__isnull=True, tokenkit_sessions__expires_at__gt=now)
    email_field = user_model.get_email_field_name()
    listed = users.annotate(tokenkit_active=Count("tokenkit_sessions", filter=active)).order_by(
        "pk"
    )[:CONFIRMATION_LIST_LIMIT]
    rows = [[str(user), getattr(user, email_field, ""), user.tokenkit_active] for user in listed]
    return render_confirmation(
        model_admin,
        request,
        title=str(_("Revoke all tokens of these users?")),
        question=str(
            _(
                "Every session of these users ends at once: their access and refresh tokens "
                "stop working on the next request and they must log in again."
            )
        ),
        headers=[str(_("user")), str(_("email")), str(_("active sessions"))],
        rows=rows,
        total=users.count(),
        submit_label=str(_("Yes, revoke all their tokens")),
    )


# --- the admin pages ----------------------------------------------------------------


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
    change_form_template = "admin/django_tokenkit/change_form.html"
    change_list_template = "admin/django_tokenkit/change_list.html"
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
            self.message_user(
                request,
                _(
                    "Only the first %(count)d words of a search are used, and the first "
                    "%(length)d characters of each: the rest was ignored."
                )
                % {"count": MAX_SEARCH_TERMS, "length": MAX_SEARCH_TERM_LENGTH},
                messages.WARNING,
            )
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

    def revoke_choices(self, obj: _M) -> list[RevokeChoice]:
        """The revoke buttons ``obj``'s page offers, given its current state."""
        return []

    def perform_revoke(self, request: HttpRequest, obj: _M, scope: str) -> str:
        """Revoke ``scope`` ("token", "session" or "user") of ``obj``; the message to show."""
        raise NotImplementedError

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

    def status(self, obj: _M) -> SafeString:
        raise NotImplementedError

    # -- shared pieces

    def _user_choice(self, user_id: Any) -> list[RevokeChoice]:
        if user_id is None:
            return []
        return [
            RevokeChoice(
                "user",
                str(_("Revoke all sessions of this user")),
                str(_("Every token of the user stops working; they must log in again.")),
            )
        ]

    def _revoke_user(self, user_id: Any) -> str:
        count = services.revoke_users([user_id], RevokeReason.ADMIN)
        return ngettext(
            "Revoked %(count)d session of the user.",
            "Revoked %(count)d sessions of the user.",
            count,
        ) % {"count": count}

    def _revoke_session(self, session: Session | None) -> str:
        count = 0 if session is None else services.revoke_sessions([session], RevokeReason.ADMIN)
        if count:
            return str(_("The session is revoked; its tokens no longer work."))
        return str(_("The session was already revoked."))

    def _user_html(self, user: Any, user_id: Any) -> SafeString | str:
        if user_id is None:
            return "-"
        return format_html(
            '<a href="?{}={}" title="{}">{}</a>',
            UserFilter.parameter_name,
            user_id,
            _("Only this user's rows"),
            user,
        )


class IssuedTokenInline(_TabularInline[IssuedToken, Session]):
    """The newest tokens of a session, read-only, on the session's page."""

    model = IssuedToken
    # Each row starts with the token's type and id, linked to its page (the
    # id is the primary key, which a tabular inline would only hide).
    fields = ("inline_status", "issued_at", "expires_at", "rotated_at", "revoked_at")
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = True
    verbose_name = _("issued token")
    verbose_name_plural = _("newest issued tokens")

    class formset(_InlineFormSet):  # noqa: N801 - Django's attribute name
        def get_queryset(self) -> QuerySet[IssuedToken]:
            # Sliced after the formset narrowed it to this session (a sliced
            # queryset cannot be filtered), and kept, so the rows are read once.
            if not hasattr(self, "_newest"):
                self._newest: QuerySet[IssuedToken] = super().get_queryset()[:SESSION_INLINE_LIMIT]
            return self._newest

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=_("status"))
    def inline_status(self, obj: IssuedToken) -> SafeString:
        return _status_html(issued_token_status(obj))


@admin.register(Session)
class SessionAdmin(RevocationAdmin[Session]):
    """Sessions: one row per login, with its newest tokens inline."""

    list_display = (
        "short_id",
        "user_column",
        "status",
        "created_at",
        "expires_at",
        "last_used_at",
        "ip_address",
        "user_agent_column",
    )
    list_display_links = ("short_id",)
    list_select_related = ("user",)
    # Newest first, read in order from an index (see the model's indexes).
    ordering = ("-created_at",)
    list_filter = (SessionStatusFilter, "created_at", "revoke_reason", UserFilter)
    # Django shows the search box only when this is set; the matching itself
    # is get_search_results below.
    search_fields = ("=id", "user__username", "user__email")
    search_help_text = _("A username or email (or part of one), or an exact session id.")
    actions = ("revoke_selected", "revoke_users")
    inlines = (IssuedTokenInline,)
    fieldsets = (
        (None, {"fields": ("id", "user", "status", "tokens_link")}),
        (_("Lifetime"), {"fields": ("auth_time", "created_at", "expires_at", "last_used_at")}),
        (_("Client"), {"fields": ("ip_address", "user_agent")}),
        (_("Revoked"), {"fields": ("revoked_at", "revoke_reason")}),
    )
    readonly_fields = (
        "id",
        "user",
        "status",
        "tokens_link",
        "auth_time",
        "created_at",
        "expires_at",
        "last_used_at",
        "ip_address",
        "user_agent",
        "revoked_at",
        "revoke_reason",
    )

    def get_fieldsets(self, request: HttpRequest, obj: Session | None = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)
        if obj is not None and obj.revoked_at is None:
            # Nothing to show under "Revoked" yet; the box above says what can be done.
            return [f for f in fieldsets if "revoked_at" not in f[1].get("fields", ())]
        return fieldsets

    def get_queryset(self, request: HttpRequest) -> QuerySet[Session]:
        queryset: QuerySet[Session] = super().get_queryset(request).select_related("user")
        return queryset

    def parse_object_id(self, object_id: str) -> uuid.UUID | None:
        try:
            return uuid.UUID(object_id)
        except ValueError:
            return None

    @admin.display(description=_("session"), ordering="id")
    def short_id(self, obj: Session) -> str:
        return str(obj.pk)[:8]

    @admin.display(description=_("user"))
    def user_column(self, obj: Session) -> SafeString | str:
        return self._user_html(obj.user, obj.user_id)

    @admin.display(description=_("status"))
    def status(self, obj: Session) -> SafeString:
        return _status_html(session_status(obj))

    @admin.display(description=_("user agent"))
    def user_agent_column(self, obj: Session) -> str:
        return Truncator(obj.user_agent).chars(48)

    @admin.display(description=_("tokens"))
    def tokens_link(self, obj: Session) -> SafeString | str:
        url = _admin_url(self.admin_site, "django_tokenkit_issuedtoken_changelist")
        count = IssuedToken.objects.filter(session=obj).count()
        label = ngettext("%(count)d issued token", "%(count)d issued tokens", count) % {
            "count": count
        }
        if url is None:
            return label
        return format_html('<a href="{}?session={}">{}</a>', url, obj.pk, label)

    def revoke_choices(self, obj: Session) -> list[RevokeChoice]:
        choices = []
        if session_status(obj) == ACTIVE:
            choices.append(
                RevokeChoice(
                    "session",
                    str(_("Revoke this session")),
                    str(_("Its access and refresh tokens stop working on the next request.")),
                )
            )
        return choices + self._user_choice(obj.user_id)

    def perform_revoke(self, request: HttpRequest, obj: Session, scope: str) -> str:
        if scope == "user":
            return self._revoke_user(obj.user_id)
        return self._revoke_session(obj)

    @admin.action(description=_("Revoke selected sessions"), permissions=["revoke"])
    def revoke_selected(
        self, request: HttpRequest, queryset: QuerySet[Session]
    ) -> TemplateResponse | None:
        targets = queryset.filter(revoked_at__isnull=True)
        if _confirmed(request):
            count = services.revoke_sessions(
                targets.select_related(None).only("pk"), RevokeReason.ADMIN
            )
            logger.info("Admin user %s revoked %d session(s).", request.user.pk, count)
            self.message_user(
                request,
                ngettext("Revoked %(count)d session.", "Revoked %(count)d sessions.", count)
                % {"count": count},
                messages.SUCCESS,
            )
            return None
        listed = targets.select_related("user")[:CONFIRMATION_LIST_LIMIT]
        return render_confirmation(
            self,
            request,
            title=str(_("Revoke the selected sessions?")),
            question=str(
                _(
                    "These sessions end at once: their access and refresh tokens stop "
                    "working on the next request. Sessions already revoked are left as they are."
                )
            ),
            headers=[
                str(_("session")),
                str(_("user")),
                str(_("created")),
                str(_("IP address")),
                str(_("user agent")),
            ],
            rows=[
                [
                    str(s.pk)[:8],
                    str(s.user),
                    s.created_at,
                    s.ip_address,
                    Truncator(s.user_agent).chars(48),
                ]
                for s in listed
            ],
            total=targets.count(),
            submit_label=str(_("Yes, revoke them")),
        )

    @admin.action(description=_("Revoke all tokens of these users"), permissions=["revoke"])
    def revoke_users(
        self, request: HttpRequest, queryset: QuerySet[Session]
    ) -> TemplateResponse | None:
        return confirm_revoke_users(self, request, queryset.values("user"))


@admin.register(IssuedToken)
class IssuedTokenAdmin(RevocationAdmin[IssuedToken]):
    """Refresh tokens as issued, each with the access token minted beside it."""

    list_display = (
        "jti",
        "token_type",
        "user_column",
        "status",
        "issued_at",
        "expires_at",
        "session_column",
        "last_used_column",
        "ip_column",
    )
    list_select_related = ("session__user",)
    ordering = ("-issued_at",)
    list_filter = (
        IssuedTokenStatusFilter,
        "token_type",
        "issued_at",
        TokenUserFilter,
        SessionFilter,
    )
    search_fields = ("=jti", "session__user__username", "session__user__email")
    search_help_text = _("A username or email (or part of one), or an exact token id.")
    actions = ("revoke_selected", "revoke_sessions", "revoke_users")
    fieldsets = (
        (None, {"fields": ("jti", "token_type", "status", "session", "user")}),
        (
            _("Lifetime"),
            {"fields": ("issued_at", "expires_at", "rotated_at", "replaced_by", "revoked_at")},
        ),
        (_("Access token issued with it"), {"fields": ("access_jti", "access_expires_at")}),
    )
    readonly_fields = (
        "jti",
        "token_type",
        "status",
        "session",
        "user",
        "issued_at",
        "expires_at",
        "rotated_at",
        "replaced_by",
        "revoked_at",
        "access_jti",
        "access_expires_at",
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[IssuedToken]:
        queryset: QuerySet[IssuedToken] = (
            super().get_queryset(request).select_related("session__user")
        )
        return queryset

    def parse_object_id(self, object_id: str) -> str | None:
        return object_id if tokens.is_well_formed_jti(object_id) else None

    def filter_by_users(
        self, queryset: QuerySet[IssuedToken], users: QuerySet[Any]
    ) -> QuerySet[IssuedToken]:
        # Through the session's user index, then the token's session index.
        narrowed: QuerySet[IssuedToken] = queryset.filter(
            session__in=Session.objects.filter(user__in=users)
        )
        return narrowed

    @admin.display(description=_("user"))
    def user_column(self, obj: IssuedToken) -> SafeString | str:
        return self._user_html(obj.session.user, obj.session.user_id)

    @admin.display(description=_("user"))
    def user(self, obj: IssuedToken) -> Any:
        return obj.session.user

    @admin.display(description=_("status"))
    def status(self, obj: IssuedToken) -> SafeString:
        return _status_html(issued_token_status(obj))

    @admin.display(description=_("session"))
    def session_column(self, obj: IssuedToken) -> SafeString | str:
        url = _admin_url(self.admin_site, "django_tokenkit_session_change", quote(obj.session_id))
        label = str(obj.session_id)[:8]
        return label if url is None else format_html('<a href="{}">{}</a>', url, label)

    @admin.display(description=_("session last used"))
    def last_used_column(self, obj: IssuedToken) -> datetime | None:
        return obj.session.last_used_at

    @admin.display(description=_("IP address"))
    def ip_column(self, obj: IssuedToken) -> str | None:
        return obj.session.ip_address

    def revoke_choices(self, obj: IssuedToken) -> list[RevokeChoice]:
        choices = []
        if session_status(obj.session) == ACTIVE:
            if obj.revoked_at is None and _pair_still_valid(obj):
                choices.append(
                    RevokeChoice(
                        "token",
                        str(_("Revoke this token")),
                        str(
                            _(
                                "This refresh token and the access token issued with it stop "
                                "working; the session stays logged in."
                            )
                        ),
                    )
                )
            choices.append(
                RevokeChoice(
                    "session",
                    str(_("Revoke its session")),
                    str(_("Every token of this session stops working.")),
                )
            )
        return choices + self._user_choice(obj.session.user_id)

    def perform_revoke(self, request: HttpRequest, obj: IssuedToken, scope: str) -> str:
        if scope == "user":
            return self._revoke_user(obj.session.user_id)
        if scope == "session":
            return self._revoke_session(obj.session)
        count = services.revoke_issued_tokens([obj], RevokeReason.ADMIN)
        if count:
            return str(_("The token is revoked."))
        return str(_("The token had already expired or been revoked."))

    @admin.action(description=_("Revoke selected tokens"), permissions=["revoke"])
    def revoke_selected(
        self, request: HttpRequest, queryset: QuerySet[IssuedToken]
    ) -> TemplateResponse | None:
        targets = queryset.filter(revoked_at__isnull=True).select_related("session__user")
        if _confirmed(request):
            count = services.revoke_issued_tokens(targets, RevokeReason.ADMIN)
            logger.info("Admin user %s revoked %d token(s).", request.user.pk, count)
            self.message_user(
                request,
                ngettext("Revoked %(count)d token.", "Revoked %(count)d tokens.", count)
                % {"count": count},
                messages.SUCCESS,
            )
            return None
        return render_confirmation(
            self,
            request,
            title=str(_("Revoke the selected tokens?")),
            question=str(
                _(
                    "Each refresh token and the access token issued with it stop working on "
                    "the next request. Their sessions stay logged in: to end a session, "
                    "revoke the session instead."
                )
            ),
            headers=[str(_("token id")), str(_("user")), str(_("issued")), str(_("expires"))],
            rows=[
                [t.jti, str(t.session.user), t.issued_at, t.expires_at]
                for t in targets[:CONFIRMATION_LIST_LIMIT]
            ],
            total=targets.count(),
            submit_label=str(_("Yes, revoke them")),
        )

    @admin.action(description=_("Revoke the sessions of selected tokens"), permissions=["revoke"])
    def revoke_sessions(
        self, request: HttpRequest, queryset: QuerySet[IssuedToken]
    ) -> TemplateResponse | None:
        sessions = Session.objects.filter(
            pk__in=queryset.values("session"), revoked_at__isnull=True
        )
        if _confirmed(request):
            count = services.revoke_sessions(sessions.only("pk"), RevokeReason.ADMIN)
            logger.info("Admin user %s revoked %d session(s).", request.user.pk, count)
            self.message_user(
                request,
                ngettext("Revoked %(count)d session.", "Revoked %(count)d sessions.", count)
                % {"count": count},
                messages.SUCCESS,
            )
            return None
        return render_confirmation(
            self,
            request,
            title=str(_("Revoke the sessions of the selected tokens?")),
            question=str(_("These sessions end at once, with every token they issued.")),
            headers=[str(_("session")), str(_("user")), str(_("created")), str(_("IP address"))],
            rows=[
                [str(s.pk)[:8], str(s.user), s.created_at, s.ip_address]
                for s in sessions.select_related("user")[:CONFIRMATION_LIST_LIMIT]
            ],
            total=sessions.count(),
            submit_label=str(_("Yes, revoke them")),
        )

    @admin.action(description=_("Revoke all tokens of these users"), permissions=["revoke"])
    def revoke_users(
        self, request: HttpRequest, queryset: QuerySet[IssuedToken]
    ) -> TemplateResponse | None:
        return confirm_revoke_users(self, request, queryset.values("session__user"))


@admin.register(BlacklistedToken)
class BlacklistedTokenAdmin(RevocationAdmin[BlacklistedToken]):
    """Single revoked tokens, kept until they would have expired anyway."""

    list_display = (
        "jti",
        "token_type",
        "user_column",
        "reason",
        "revoked_at",
        "expires_at",
        "status",
    )
    list_select_related = ("user",)
    ordering = ("-revoked_at",)
    list_filter = (BlacklistStatusFilter, "token_type", "reason", "revoked_at", UserFilter)
    search_fields = ("=jti", "user__username", "user__email")
    search_help_text = _("A username or email (or part of one), or an exact token id.")
    actions = ("revoke_users",)
    fieldsets = (
        (None, {"fields": ("jti", "token_type", "status", "user", "session")}),
        (_("Revocation"), {"fields": ("reason", "revoked_at", "expires_at")}),
    )
    readonly_fields = (
        "jti",
        "token_type",
        "status",
        "user",
        "session",
        "reason",
        "revoked_at",
        "expires_at",
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[BlacklistedToken]:
        queryset: QuerySet[BlacklistedToken] = (
            super().get_queryset(request).select_related("user", "session")
        )
        return queryset

    def parse_object_id(self, object_id: str) -> str | None:
        return object_id if tokens.is_well_formed_jti(object_id) else None

    @admin.display(description=_("user"))
    def user_column(self, obj: BlacklistedToken) -> SafeString | str:
        return self._user_html(obj.user, obj.user_id)

    @admin.display(description=_("status"))
    def status(self, obj: BlacklistedToken) -> SafeString:
        return _status_html(blacklist_status(obj))

    def revoke_choices(self, obj: BlacklistedToken) -> list[RevokeChoice]:
        choices = []
        if obj.session is not None and session_status(obj.session) == ACTIVE:
            choices.append(
                RevokeChoice(
                    "session",
                    str(_("Revoke its session")),
                    str(_("Every other token of the session this token belonged to stops too.")),
                )
            )
        return choices + self._user_choice(obj.user_id)

    def perform_revoke(self, request: HttpRequest, obj: BlacklistedToken, scope: str) -> str:
        if scope == "user":
            return self._revoke_user(obj.user_id)
        return self._revoke_session(obj.session)

    @admin.action(description=_("Revoke all tokens of these users"), permissions=["revoke"])
    def revoke_users(
        self, request: HttpRequest, queryset: QuerySet[BlacklistedToken]
    ) -> TemplateResponse | None:
        return confirm_revoke_users(self, request, queryset.exclude(user=None).values("user"))


# --- the User admin -------------------------------------------------------------------


class TokenkitUserAdminMixin(_UserAdminBase):
    """Adds tokenkit to a user admin: a link to each user's sessions, and a revoke action.

    tokenkit adds this to Django's stock ``UserAdmin`` by itself. If your
    project registers its own admin for the user model, put the mixin first
    in its bases::

        @admin.register(User)
        class MyUserAdmin(TokenkitUserAdminMixin, UserAdmin):
            ...

    It adds a "sessions" column to the list, a "Tokens" section to the
    user's page (active sessions, links to their sessions and revoked
    tokens) and the action "Revoke all sessions", which asks for
    confirmation first. The column and section need the permission to view
    sessions, the action the permission to change them.
    """

    def get_list_display(self, request: HttpRequest) -> Any:
        list_display = list(super().get_list_display(request))
        if _can_view_sessions(request) and "tokenkit_sessions_link" not in list_display:
            list_display.append("tokenkit_sessions_link")
        return list_display

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and _can_view_sessions(request):
            fields.append("tokenkit_sessions_summary")
        return fields

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None or not _can_view_sessions(request):
            return fieldsets
        name = "tokenkit_sessions_summary"
        # Without declared fieldsets Django puts every read-only field in the
        # first one; ours gets its own section instead.
        cleaned = [
            (title, {**options, "fields": [f for f in options["fields"] if f != name]})
            for title, options in fieldsets
        ]
        return [*cleaned, (_("Tokens"), {"fields": [name]})]

    def get_actions(self, request: HttpRequest, *args: Any, **kwargs: Any) -> dict[str, Any]:
        actions = super().get_actions(request, *args, **kwargs)
        if self.actions is None or IS_POPUP_VAR in request.GET or not can_revoke(request):
            return actions
        action = self.get_action(
            TokenkitUserAdminMixin.tokenkit_revoke_all_sessions, *args, **kwargs
        )
        if action is not None:
            actions["tokenkit_revoke_all_sessions"] = action
        return actions

    @admin.display(description=_("sessions"))
    def tokenkit_sessions_link(self, obj: Any) -> SafeString | str:
        url = _admin_url(self.admin_site, "django_tokenkit_session_changelist")
        if url is None:
            return "-"
        return format_html(
            '<a href="{}?{}={}">{}</a>', url, UserFilter.parameter_name, obj.pk, _("Sessions")
        )

    @admin.display(description=_("sessions"))
    def tokenkit_sessions_summary(self, obj: Any) -> SafeString | str:
        active = Session.objects.filter(user=obj).active().count()
        text = ngettext("%(count)d active session", "%(count)d active sessions", active) % {
            "count": active
        }
        sessions = _admin_url(self.admin_site, "django_tokenkit_session_changelist")
        revoked = _admin_url(self.admin_site, "django_tokenkit_blacklistedtoken_changelist")
        if sessions is None or revoked is None:
            return text
        query = f"{UserFilter.parameter_name}={obj.pk}"
        return format_html(
            '{} &middot; <a href="{}?{}">{}</a> &middot; <a href="{}?{}">{}</a>',
            text,
            sessions,
            query,
            _("all sessions"),
            revoked,
            query,
            _("revoked tokens"),
        )

    @admin.action(description=_("Revoke all sessions of selected %(verbose_name_plural)s"))
    def tokenkit_revoke_all_sessions(
        self, request: HttpRequest, queryset: QuerySet[Any]
    ) -> TemplateResponse | None:
        if not can_revoke(request):
            raise PermissionDenied
        return confirm_revoke_users(self, request, queryset.values("pk"))


class TokenkitUserAdmin(TokenkitUserAdminMixin, _StockUserAdmin):
    """Django's ``UserAdmin`` with :class:`TokenkitUserAdminMixin`."""


def extend_stock_user_admin(site: admin.AdminSite) -> bool:
    """Swap Django's stock ``UserAdmin`` on ``site`` for :class:`TokenkitUserAdmin`.

    Only the stock class is replaced, never a project's own user admin
    (which can use the mixin instead). Returns whether it replaced it.
    """
    user_model = get_user_model()
    current = site._registry.get(user_model)
    if current is None or type(current) is not UserAdmin:
        return False
    site.unregister(user_model)
    site.register(user_model, TokenkitUserAdmin)
    return True


extend_stock_user_admin(admin.site)


__all__ = [
    "BlacklistedTokenAdmin",
    "EstimatedCountPaginator",
    "IssuedTokenAdmin",
    "SessionAdmin",
    "TokenkitUserAdmin",
    "TokenkitUserAdminMixin",
    "extend_stock_user_admin",
]
