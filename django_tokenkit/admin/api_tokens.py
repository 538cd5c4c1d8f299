"""The API-token pages: inspect, create, rotate and revoke the tokens of scripts and jobs.

Unlike sessions, an API token can be created here (for a user, the "add"
page) and rotated (a changelist action), and both show the new secret once,
on the page that answers the form, and never again: only its digest is
stored. Every write goes through :mod:`django_tokenkit.services.api_tokens`,
so a token revoked here stops working on the next request on every process,
and the same signals fire as from the endpoints and the command.
"""

from __future__ import annotations

import logging
import operator
import uuid
from collections.abc import Sequence
from datetime import timedelta
from functools import reduce
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.options import IS_POPUP_VAR
from django.contrib.auth import get_permission_codename
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from django_tokenkit import api_token_format
from django_tokenkit.admin.actions import (
    CONFIRMATION_LIST_LIMIT,
    RevokeChoice,
    RevokeTarget,
    confirmed,
    render_confirmation,
    revoke_action,
    users_of,
)
from django_tokenkit.admin.api_token_forms import APITokenCreateForm, RotateForm, user_pk
from django_tokenkit.admin.filters import StatusFilter, UserFilter
from django_tokenkit.admin.options import RevocationAdmin
from django_tokenkit.admin.search import matching_users, search_terms
from django_tokenkit.admin.utils import user_link
from django_tokenkit.models import APIToken, APITokenQuerySet, RevokeReason, TokenStatus
from django_tokenkit.services import api_tokens

logger = logging.getLogger(__name__)

#: How far ahead the "expires within 7 days" filter looks.
EXPIRING_SOON = timedelta(days=7)


class ExpiryFilter(admin.SimpleListFilter):
    """ "Expires within 7 days" (still usable) and "never expires": the tokens to look at.

    A fixed list, drawn without a query; both narrow through the index on
    ``expires_at`` (PostgreSQL's B-tree indexes hold NULLs too).
    """

    title = _("expiry")
    parameter_name = "expires"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("7d", _("within 7 days")), ("never", _("never expires"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any] | None:
        value = self.value()
        narrowed: QuerySet[Any] = queryset
        if value == "never":
            narrowed = queryset.filter(expires_at__isnull=True)
        elif value == "7d":
            now = timezone.now()
            narrowed = queryset.filter(
                revoked_at__isnull=True, expires_at__gt=now, expires_at__lte=now + EXPIRING_SOON
            )
        return narrowed


def _api_token_rows(records: QuerySet[Any]) -> list[list[Any]]:
    listed = records.select_related("user")[:CONFIRMATION_LIST_LIMIT]
    return [[t.name, str(t.user), t.hint, t.expires_at or _("never expires")] for t in listed]


def _revoke_api_tokens(request: HttpRequest, records: QuerySet[Any]) -> str:
    count = api_tokens.revoke(records.select_related(None).only("pk"), RevokeReason.ADMIN)
    logger.info("Admin user %s revoked %d API token(s).", request.user.pk, count)
    return ngettext("Revoked %(count)d API token.", "Revoked %(count)d API tokens.", count) % {
        "count": count
    }


#: API tokens (a queryset of :class:`~django_tokenkit.models.APIToken`).
API_TOKENS = RevokeTarget(
    headers=(_("name"), _("user"), _("hint"), _("expires")),
    rows=_api_token_rows,
    revoke=_revoke_api_tokens,
)


def render_secrets(
    request: HttpRequest,
    model_admin: admin.ModelAdmin[Any],
    issued: Sequence[api_tokens.IssuedAPIToken],
    *,
    title: str,
) -> TemplateResponse:
    """The page that shows new tokens once; nothing may keep a copy of it.

    The secrets are in this response only: it is marked ``no-store`` so no
    browser or proxy cache keeps them, and reloading the page cannot show
    them again (a reload would post the form again and be refused).
    """
    opts = model_admin.model._meta
    request.current_app = model_admin.admin_site.name
    context = {
        **model_admin.admin_site.each_context(request),
        "title": title,
        "subtitle": None,
        "opts": opts,
        "app_label": opts.app_label,
        "issued": issued,
    }
    response = TemplateResponse(request, "admin/tokenkit/api_token_secrets.html", context)
    add_never_cache_headers(response)
    return response


def _rotate_selected(
    model_admin: APITokenAdmin, request: HttpRequest, queryset: QuerySet[APIToken]
) -> HttpResponse | None:
    """Confirm, then rotate each ticked active token and show the new secrets once."""
    if not model_admin.has_rotate_permission(request):
        raise PermissionDenied
    rotatable = (
        queryset.filter(APITokenQuerySet.status_condition(TokenStatus.ACTIVE, timezone.now()))
        .filter(rotated_at__isnull=True)
        .select_related("user")
    )
    total = rotatable.count()
    if total > CONFIRMATION_LIST_LIMIT:
        model_admin.message_user(
            request,
            _("Rotate at most %(count)d tokens at once: each new token is shown on one page.")
            % {"count": CONFIRMATION_LIST_LIMIT},
            messages.ERROR,
        )
        return None
    form = RotateForm(request.POST if confirmed(request) else None)
    if confirmed(request) and form.is_valid():
        grace = timedelta(seconds=form.cleaned_data["grace"])
        issued = []
        for record in rotatable.order_by("created_at"):
            try:
                new = api_tokens.rotate(record, grace=grace, request=request)
            except api_tokens.APITokenError:
                continue  # revoked or rotated meanwhile: nothing to show for it
            model_admin.log_change(request, record, str(_("Rotated.")))
            model_admin.log_addition(request, new.record, str(_("Created by rotation.")))
            issued.append(new)
        logger.info("Admin user %s rotated %d API token(s).", request.user.pk, len(issued))
        return render_secrets(request, model_admin, issued, title=str(_("The new API tokens")))
    return render_confirmation(
        model_admin,
        request,
        title=str(_("Rotate the selected API tokens?")),
        question=str(
            _(
                "Each token is replaced by a new one with the same name, user and scopes, "
                "shown once on the next page. The old token keeps working for the time "
                "chosen below, then stops. Revoked, expired and already rotated tokens are "
                "left out."
            )
        ),
        headers=[str(header) for header in API_TOKENS.headers],
        rows=_api_token_rows(rotatable),
        total=total,
        submit_label=str(_("Yes, rotate them")),
        template="rotate_confirmation.html",
        extra_context={"form": form},
    )


class APITokenAdmin(RevocationAdmin[APIToken]):
    """API tokens: who has one, for what, until when; create, rotate and revoke them."""

    list_display = (
        "name",
        "user_column",
        "hint",
        "scopes_column",
        "status",
        "created_at",
        "expires_column",
        "last_used_at",
        "last_used_ip",
    )
    list_select_related = ("user",)
    # Newest first, read in order from an index (see the model's indexes).
    ordering = ("-created_at",)
    list_filter = (StatusFilter, ExpiryFilter, "created_at", UserFilter)
    search_fields = ("=id", "name", "=hint", "user__username", "user__email")
    search_help_text = _(
        "A username, email or token name (or part of one), a hint (tkp_…), a whole token, "
        "or an exact id."
    )
    actions = ("revoke_selected", "revoke_users", "rotate_selected")
    fieldsets = (
        (None, {"fields": ("name", "user", "hint", "scopes", "status")}),
        (
            _("Lifetime"),
            {"fields": ("created_at", "expires_column", "last_used_at", "last_used_ip")},
        ),
        (_("Rotation"), {"fields": ("rotated_from", "rotated_at")}),
        (_("Revoked"), {"fields": ("revoked_at", "revoke_reason")}),
    )
    readonly_fields = (
        "name",
        "user",
        "hint",
        "scopes",
        "status",
        "created_at",
        "expires_column",
        "last_used_at",
        "last_used_ip",
        "rotated_from",
        "rotated_at",
        "revoked_at",
        "revoke_reason",
    )
    add_form_template = "admin/tokenkit/api_token_add.html"

    revoke_selected = revoke_action(
        "revoke_selected",
        description=_("Revoke selected API tokens"),
        target=API_TOKENS,
        select=lambda records: records.filter(revoked_at__isnull=True),
        title=_("Revoke the selected API tokens?"),
        question=_(
            "These API tokens stop working on the next request, on every server. "
            "Tokens already revoked are left as they are."
        ),
    )
    revoke_users = revoke_action(
        "revoke_users",
        description=_("Revoke all API tokens of these users"),
        target=API_TOKENS,
        select=lambda records: APIToken.objects.filter(
            user__in=users_of(records, "user"), revoked_at__isnull=True
        ),
        title=_("Revoke all API tokens of these users?"),
        question=_(
            "Every API token of these users stops working on the next request, on every "
            "server; their sessions (logins) are left as they are."
        ),
    )
    rotate_selected = admin.action(
        description=_("Rotate selected API tokens"), permissions=["rotate"]
    )(_rotate_selected)

    # -- permissions: tokens are created and rotated here, never edited

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.{get_permission_codename('add', opts)}")

    def has_rotate_permission(self, request: HttpRequest) -> bool:
        """Rotating issues a token (add) and ends one (change)."""
        return self.has_add_permission(request) and self.has_revoke_permission(request)

    # -- the list

    def get_queryset(self, request: HttpRequest) -> QuerySet[APIToken]:
        queryset: QuerySet[APIToken] = super().get_queryset(request).select_related("user")
        return queryset

    def parse_object_id(self, object_id: str) -> uuid.UUID | None:
        try:
            return uuid.UUID(object_id)
        except ValueError:
            return None

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[APIToken], bool]:
        """Ids, whole tokens and hints find their rows; other words a user or a name.

        Bounded as on the other pages (:func:`~django_tokenkit.admin.search.search_terms`).
        A word that is an id (the primary key), a whole token (its digest, a
        unique index: paste a leaked token to find it) or a hint
        (``tkp_`` + 4) finds those rows. Every other word must match the
        user's username or email (through the user table) or be part of the
        token's name.
        """
        terms = search_terms(search_term)
        if terms.bounded:
            self.warn_search_bounded(request)
        ids, digests, hints, words = [], [], [], []
        for word in terms.words:
            pk = self.parse_object_id(word)
            if pk is not None:
                ids.append(pk)
            elif api_token_format.is_well_formed(word):
                digests.append(api_token_format.digest(word))
            elif _is_hint(word):
                hints.append(word)
            else:
                words.append(word)
        exact = [
            Q(**{lookup: values})
            for lookup, values in (("pk__in", ids), ("digest__in", digests), ("hint__in", hints))
            if values
        ]
        if exact:
            # Only the kinds typed: an id or a token alone stays an index lookup.
            queryset = queryset.filter(reduce(operator.or_, exact))
        for word in words:
            queryset = queryset.filter(Q(user__in=matching_users([word])) | Q(name__icontains=word))
        return queryset, False

    @admin.display(description=_("user"))
    def user_column(self, obj: APIToken) -> SafeString | str:
        return user_link(obj.user, obj.user_id)

    @admin.display(description=_("scopes"))
    def scopes_column(self, obj: APIToken) -> str:
        return ", ".join(obj.scopes or []) or "-"

    @admin.display(description=_("expires"), ordering="expires_at")
    def expires_column(self, obj: APIToken) -> SafeString | str:
        if obj.expires_at is None:
            return format_html(
                '<span class="tokenkit-never-expires" title="{}">{}</span>',
                _("Chosen explicitly when it was created: rotate or revoke it when done."),
                _("never expires"),
            )
        return format_html(
            '<time datetime="{}">{}</time>',
            obj.expires_at.isoformat(),
            obj.expires_at.strftime("%Y-%m-%d %H:%M UTC"),
        )

    # -- the detail page's buttons

    def revoke_choices(self, obj: APIToken) -> list[RevokeChoice]:
        choices = []
        if obj.status() == TokenStatus.ACTIVE:
            choices.append(
                RevokeChoice(
                    "api_token",
                    str(_("Revoke this API token")),
                    str(_("It stops working on the next request, on every server.")),
                )
            )
        choices.append(
            RevokeChoice(
                "user_api_tokens",
                str(_("Revoke all API tokens of this user")),
                str(_("Their sessions (logins) are left as they are.")),
            )
        )
        return choices

    def perform_revoke(self, request: HttpRequest, obj: APIToken, scope: str) -> str:
        if scope == "api_token":
            if api_tokens.revoke([obj], RevokeReason.ADMIN):
                return str(_("The API token is revoked."))
            return str(_("The API token was already revoked."))
        if scope == "user_api_tokens":
            count = api_tokens.revoke_for_users([obj.user_id], RevokeReason.ADMIN)
            return ngettext(
                "Revoked %(count)d API token of the user.",
                "Revoked %(count)d API tokens of the user.",
                count,
            ) % {"count": count}
        raise ValueError(f"No revoke scope {scope!r} on this page.")

    # -- creating a token for a user

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """A form (user, name, lifetime, scopes); its answer shows the new token once."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        if request.method == "POST":
            form = APITokenCreateForm(request.POST, admin_site=self.admin_site)
            if form.is_valid():
                try:
                    issued = api_tokens.create(
                        form.cleaned_data["user"],
                        name=form.cleaned_data["name"],
                        expires_in=form.lifetime(),
                        scopes=form.cleaned_data.get("scopes", []),
                        request=request,
                    )
                except api_tokens.APITokenError as error:
                    form.add_error(None, error.detail)
                else:
                    self.log_addition(request, issued.record, str(_("Created.")))
                    logger.info(
                        "Admin user %s created API token %s for user %s.",
                        request.user.pk,
                        issued.record.pk,
                        issued.record.user_id,
                    )
                    return render_secrets(
                        request, self, [issued], title=str(_("The new API token"))
                    )
        else:
            # ?user=<pk> (the User admin's link) chooses the user beforehand.
            chosen = user_pk(request.GET.get("user", ""))
            form = APITokenCreateForm(
                initial={"user": "" if chosen is None else chosen}, admin_site=self.admin_site
            )
        request.current_app = self.admin_site.name
        context = {
            **self.admin_site.each_context(request),
            "title": _("Create an API token"),
            "subtitle": None,
            "opts": self.opts,
            "app_label": self.opts.app_label,
            "form": form,
            "media": self.media + form.media,
            "is_popup": IS_POPUP_VAR in request.GET,
            **(extra_context or {}),
        }
        return TemplateResponse(request, self.add_form_template, context)


def _is_hint(word: str) -> bool:
    body = word[len(api_token_format.PREFIX) :]
    return (
        word.startswith(api_token_format.PREFIX)
        and len(body) == api_token_format.HINT_LENGTH
        and all(char in api_token_format.ALPHABET for char in body)
    )
