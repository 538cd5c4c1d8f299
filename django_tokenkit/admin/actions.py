"""Revoking from the admin: one factory for the changelist actions, and their confirmation.

Every revoke action works the same way: the ticked rows (or every row the
list's filters select) are mapped to what will be revoked (sessions, issued
tokens or users: a :class:`RevokeTarget`), a confirmation page lists them,
and "Yes" revokes them through :mod:`django_tokenkit.services`. So an
action is a small description given to :func:`revoke_action`, and
:func:`revoke_users_action` builds the "revoke all tokens of these users"
action of any page whose rows have a user.

The detail pages' revoke buttons (:class:`RevokeChoice`) share the
revocations at the bottom of this module.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from django_tokenkit import services
from django_tokenkit.models import APIToken, IssuedToken, RevokeReason, Session
from django_tokenkit.services.revocation import UsersRevoked

if TYPE_CHECKING:
    from django.utils.functional import _StrOrPromise

logger = logging.getLogger(__name__)

#: Rows listed on a confirmation page; the rest are counted, not listed.
CONFIRMATION_LIST_LIMIT = 50

#: A changelist action as Django calls it: ``action(model_admin, request, queryset)``.
RevokeActionFunction = Callable[[Any, HttpRequest, QuerySet[Any]], TemplateResponse | None]


# --- the confirmation page ------------------------------------------------------------


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
    template: str = "revoke_confirmation.html",
    extra_context: dict[str, Any] | None = None,
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
        **(extra_context or {}),
    }
    return TemplateResponse(
        request,
        [
            f"admin/{opts.app_label}/{opts.model_name}/tokenkit_{template}",
            f"admin/tokenkit/{template}",
        ],
        context,
    )


def confirmed(request: HttpRequest) -> bool:
    """Whether this is the confirmation page's "Yes" (Django's ``post=yes``)."""
    return request.method == "POST" and request.POST.get("post") == "yes"


# --- what an action revokes -------------------------------------------------------------


@dataclass(frozen=True)
class RevokeTarget:
    """What a revoke action ends, told once: how to list it, and how to revoke it.

    ``rows`` gives the confirmation page's first
    :data:`CONFIRMATION_LIST_LIMIT` rows (one list per row, in the order of
    ``headers``); ``revoke`` revokes every row of the queryset through
    :mod:`django_tokenkit.services`, logs who did it, and returns the
    message to show.
    """

    headers: tuple[_StrOrPromise, ...]
    rows: Callable[[QuerySet[Any]], list[list[Any]]]
    revoke: Callable[[HttpRequest, QuerySet[Any]], str]


def _session_rows(sessions: QuerySet[Any]) -> list[list[Any]]:
    listed = sessions.select_related("user")[:CONFIRMATION_LIST_LIMIT]
    return [
        [
            str(s.pk)[:8],
            str(s.user),
            s.created_at,
            s.ip_address,
            Truncator(s.user_agent).chars(48),
        ]
        for s in listed
    ]


def _revoke_sessions(request: HttpRequest, sessions: QuerySet[Any]) -> str:
    count = services.revoke_sessions(sessions.select_related(None).only("pk"), RevokeReason.ADMIN)
    logger.info("Admin user %s revoked %d session(s).", request.user.pk, count)
    return ngettext("Revoked %(count)d session.", "Revoked %(count)d sessions.", count) % {
        "count": count
    }


#: Sessions (a queryset of :class:`~django_tokenkit.models.Session`).
SESSIONS = RevokeTarget(
    headers=(_("session"), _("user"), _("created"), _("IP address"), _("user agent")),
    rows=_session_rows,
    revoke=_revoke_sessions,
)


def _token_rows(records: QuerySet[Any]) -> list[list[Any]]:
    listed = records.select_related("session__user")[:CONFIRMATION_LIST_LIMIT]
    return [[t.jti, str(t.session.user), t.issued_at, t.expires_at] for t in listed]


def _revoke_tokens(request: HttpRequest, records: QuerySet[Any]) -> str:
    count = services.revoke_issued_tokens(records.select_related("session"), RevokeReason.ADMIN)
    logger.info("Admin user %s revoked %d token(s).", request.user.pk, count)
    return ngettext("Revoked %(count)d token.", "Revoked %(count)d tokens.", count) % {
        "count": count
    }


#: Issued token pairs (a queryset of :class:`~django_tokenkit.models.IssuedToken`).
ISSUED_TOKENS = RevokeTarget(
    headers=(_("token id"), _("user"), _("issued"), _("expires")),
    rows=_token_rows,
    revoke=_revoke_tokens,
)


def _user_rows(users: QuerySet[Any]) -> list[list[Any]]:
    # One query for the listed users, their active sessions and API tokens:
    # correlated counts through the sessions' and API tokens' user indexes.
    now = timezone.now()
    active_sessions = (
        Session.objects.active(now)
        .filter(user=OuterRef("pk"))
        .order_by()
        .values("user")
        .annotate(count=Count("pk"))
        .values("count")
    )
    active_api_tokens = (
        APIToken.objects.active(now)
        .filter(user=OuterRef("pk"))
        .order_by()
        .values("user")
        .annotate(count=Count("pk"))
        .values("count")
    )
    email_field = get_user_model().get_email_field_name()
    listed = users.annotate(
        tokenkit_active=Coalesce(Subquery(active_sessions), 0),
        tokenkit_active_api_tokens=Coalesce(Subquery(active_api_tokens), 0),
    ).order_by("pk")
    return [
        [
            str(user),
            getattr(user, email_field, ""),
            user.tokenkit_active,
            user.tokenkit_active_api_tokens,
        ]
        for user in listed[:CONFIRMATION_LIST_LIMIT]
    ]


def users_revoked_message(revoked: UsersRevoked, users: int | None = None) -> str:
    """What revoking users' sessions and API tokens did, saying both counts."""
    sessions = ngettext("%(count)d session", "%(count)d sessions", revoked.sessions) % {
        "count": revoked.sessions
    }
    api_tokens = ngettext("%(count)d API token", "%(count)d API tokens", revoked.api_tokens) % {
        "count": revoked.api_tokens
    }
    if users is None:
        return _("Revoked %(sessions)s and %(api_tokens)s of the user.") % {
            "sessions": sessions,
            "api_tokens": api_tokens,
        }
    return _("Revoked %(sessions)s and %(api_tokens)s of %(users)d user(s).") % {
        "sessions": sessions,
        "api_tokens": api_tokens,
        "users": users,
    }


def _revoke_users(request: HttpRequest, users: QuerySet[Any]) -> str:
    pks = list(users.values_list("pk", flat=True))
    revoked = services.revoke_users_and_api_tokens(pks, RevokeReason.ADMIN)
    logger.info(
        "Admin user %s revoked all sessions and API tokens of %d user(s): "
        "%d session(s), %d API token(s).",
        request.user.pk,
        len(pks),
        revoked.sessions,
        revoked.api_tokens,
    )
    return users_revoked_message(revoked, len(pks))


#: Every session and API token of some users (a queryset of the user model).
USERS = RevokeTarget(
    headers=(_("user"), _("email"), _("active sessions"), _("active API tokens")),
    rows=_user_rows,
    revoke=_revoke_users,
)


# --- the factory ------------------------------------------------------------------------

#: The confirmation page's button, unless an action names its own.
YES_REVOKE = _("Yes, revoke them")
#: The label of :func:`revoke_users_action`'s action, unless a page names its own.
REVOKE_USERS = _("Revoke all tokens of these users")


def revoke_action(
    name: str,
    *,
    description: _StrOrPromise,
    target: RevokeTarget,
    select: Callable[[QuerySet[Any]], QuerySet[Any]],
    title: _StrOrPromise,
    question: _StrOrPromise,
    submit_label: _StrOrPromise = YES_REVOKE,
    permission: str = "revoke",
) -> RevokeActionFunction:
    """A changelist action that confirms, then revokes ``target``.

    ``select`` maps the ticked rows to the queryset of ``target`` that the
    action revokes (for example the sessions of the ticked tokens). The
    action needs ``has_<permission>_permission(request)`` on the model admin:
    Django hides it without, and it refuses to run (403) without, however it
    was reached. Assign the result to a class attribute named ``name`` and
    list ``name`` in ``actions``.
    """

    def action(
        model_admin: Any, request: HttpRequest, queryset: QuerySet[Any]
    ) -> TemplateResponse | None:
        if not getattr(model_admin, f"has_{permission}_permission")(request):
            raise PermissionDenied
        chosen = select(queryset)
        if confirmed(request):
            model_admin.message_user(request, target.revoke(request, chosen), messages.SUCCESS)
            return None
        return render_confirmation(
            model_admin,
            request,
            title=str(title),
            question=str(question),
            headers=[str(header) for header in target.headers],
            rows=target.rows(chosen),
            total=chosen.count(),
            submit_label=str(submit_label),
        )

    # Django names an action given as a function by its __name__.
    action.__name__ = action.__qualname__ = name
    decorated: RevokeActionFunction = admin.action(
        description=description, permissions=[permission]
    )(action)
    return decorated


def users_of(queryset: QuerySet[Any], user_lookup: str) -> QuerySet[Any]:
    """The users of the rows of ``queryset`` (rows without one left out), as a subquery."""
    with_user = queryset.filter(**{f"{user_lookup}__isnull": False}).values(user_lookup)
    users: QuerySet[Any] = get_user_model()._default_manager.filter(pk__in=with_user)
    return users


def revoke_users_action(
    user_lookup: str,
    *,
    name: str = "revoke_users",
    description: _StrOrPromise = REVOKE_USERS,
    permission: str = "revoke",
) -> RevokeActionFunction:
    """The action "revoke all tokens of these users" for rows whose user is ``user_lookup``.

    It ends every session and every API token of those users.

    ``user_lookup`` leads from a row to its user's primary key (``"user"``,
    ``"session__user"``, or ``"pk"`` on a user admin). Rows without a user
    are left out.
    """

    return revoke_action(
        name,
        description=description,
        target=USERS,
        select=lambda queryset: users_of(queryset, user_lookup),
        title=_("Revoke all tokens of these users?"),
        question=_(
            "Every session and every API token of these users ends at once: their access, "
            "refresh and API tokens stop working on the next request and they must log in "
            "again."
        ),
        submit_label=_("Yes, revoke all their tokens"),
        permission=permission,
    )


# --- the detail pages' buttons ----------------------------------------------------------


@dataclass(frozen=True)
class RevokeChoice:
    """One revoke button on a detail page: its ``scope`` is what it revokes."""

    scope: str
    label: str
    help: str


def user_choice(user_id: Any) -> list[RevokeChoice]:
    """The "revoke all sessions and API tokens of this user" button, when the row has a user."""
    if user_id is None:
        return []
    return [
        RevokeChoice(
            "user",
            str(_("Revoke all sessions and API tokens of this user")),
            str(
                _("Every session and API token of the user stops working; they must log in again.")
            ),
        )
    ]


def revoke_user(user_id: Any) -> str:
    """Revoke every session and API token of the user ``user_id``; the message to show."""
    return users_revoked_message(
        services.revoke_users_and_api_tokens([user_id], RevokeReason.ADMIN)
    )


def revoke_session(session: Session | None) -> str:
    """Revoke ``session`` with every token it issued; the message to show."""
    count = 0 if session is None else services.revoke_sessions([session], RevokeReason.ADMIN)
    if count:
        return str(_("The session is revoked; its tokens no longer work."))
    return str(_("The session was already revoked."))


def revoke_pair(record: IssuedToken) -> str:
    """Revoke one issued refresh token and the access token issued with it."""
    if services.revoke_issued_tokens([record], RevokeReason.ADMIN):
        return str(_("The token is revoked."))
    return str(_("The token had already expired or been revoked."))
