"""The forms of the API-token pages: creating a token for a user, and a rotation's grace.

They only collect and check input; the token itself is created by
:func:`django_tokenkit.services.api_tokens.create` (or rotated by
:func:`~django_tokenkit.services.api_tokens.rotate`), whose own checks (the
maximum lifetime, the per-user limit, known scopes) come back as form errors.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import ForeignKeyRawIdWidget
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from django_tokenkit import users
from django_tokenkit.conf import tokenkit_settings
from django_tokenkit.models import APIToken
from django_tokenkit.services.api_tokens import LONGEST_LIFETIME, MAX_GRACE, NAME_MAX_LENGTH

#: The value of the "expires in" choice for a token that never expires.
NEVER = "never"

#: The lifetimes the add page offers, in days; those over API_TOKEN_MAX_LIFETIME are left out.
LIFETIME_DAYS = (1, 7, 30, 90, 180, 365)
#: What "expires in" starts at: long enough for a quarterly job, short enough to be noticed.
DEFAULT_LIFETIME_DAYS = 90

#: The overlaps a rotation from the admin offers, in seconds.
GRACE_CHOICES = (
    (0, _("none: the old token stops at once")),
    (3600, _("1 hour")),
    (int(MAX_GRACE.total_seconds()), _("24 hours")),
)


def _lifetime_choices() -> list[tuple[str, Any]]:
    """The "expires in" choices the current settings allow (read at call time)."""
    maximum = tokenkit_settings.api_token_max_lifetime
    longest = min(maximum, LONGEST_LIFETIME) if maximum is not None else LONGEST_LIFETIME
    choices: list[tuple[str, Any]] = [
        (str(days), _("%(days)d days") % {"days": days} if days != 1 else _("1 day"))
        for days in LIFETIME_DAYS
        if timedelta(days=days) <= longest
    ]
    if maximum is not None and timedelta(days=LIFETIME_DAYS[0]) > maximum:
        # A maximum under a day: offer exactly the maximum.
        choices.insert(0, (f"s{int(maximum.total_seconds())}", _("the maximum lifetime")))
    if maximum is None:
        choices.append((NEVER, _("Never expires")))
    return choices


def user_pk(value: object) -> Any:
    """The user primary key ``value`` spells, or None when no row can have it.

    What arrives from a form or a query string: a NUL byte, or an integer
    past 64 bits, would be an error in PostgreSQL rather than "no such user".
    """
    if not isinstance(value, str) or "\x00" in value:
        return None
    pk = users.coerce_pk(value)
    if isinstance(pk, int) and not -(2**63) <= pk < 2**63:
        return None
    return pk


class UserChoiceField(forms.ModelChoiceField):  # type: ignore[type-arg]  # generic only in the stubs
    """A user by primary key; a value no row can have is "not a choice", before any query."""

    def to_python(self, value: Any) -> Any:
        if value in self.empty_values:
            return None
        if user_pk(str(value)) is None:
            raise forms.ValidationError(
                self.error_messages["invalid_choice"], code="invalid_choice"
            )
        return super().to_python(value)


class APITokenCreateForm(forms.Form):
    """User, name, lifetime (or "never") and scopes of a new API token."""

    user = UserChoiceField(queryset=get_user_model()._default_manager.none())
    name = forms.CharField(
        max_length=NAME_MAX_LENGTH,
        help_text=_("What uses it, e.g. “nightly export”: it is shown in lists and emails."),
    )
    expires_in = forms.ChoiceField(
        label=_("Expires in"),
        help_text=_(
            "The owner is warned by email before it expires. “Never expires” is shown "
            "prominently in the list: prefer a lifetime and rotate."
        ),
    )
    scopes = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None: the token has all of its user's rights."),
    )

    def __init__(self, *args: Any, admin_site: admin.AdminSite, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        user_field = self.fields["user"]
        assert isinstance(user_field, UserChoiceField)
        # Every user may be chosen, but the page never lists them all: the raw
        # id widget takes a primary key, with the admin's lookup pop-up.
        user_field.queryset = get_user_model()._default_manager.all()
        remote = APIToken._meta.get_field("user").remote_field
        user_field.widget = ForeignKeyRawIdWidget(remote, admin_site)  # type: ignore[arg-type]  # a ForeignObjectRel, as Django passes it
        expires = self.fields["expires_in"]
        assert isinstance(expires, forms.ChoiceField)
        expires.choices = _lifetime_choices()
        if str(DEFAULT_LIFETIME_DAYS) in dict(expires.choices):
            expires.initial = str(DEFAULT_LIFETIME_DAYS)
        scopes = self.fields["scopes"]
        assert isinstance(scopes, forms.MultipleChoiceField)
        scopes.choices = [
            (name, f"{name}: {description}")
            for name, description in tokenkit_settings.api_token_scopes.items()
        ]
        if not scopes.choices:
            del self.fields["scopes"]

    def lifetime(self) -> timedelta | None:
        """The chosen lifetime; None for "never expires"."""
        value: str = self.cleaned_data["expires_in"]
        if value == NEVER:
            return None
        if value.startswith("s"):
            return timedelta(seconds=int(value[1:]))
        return timedelta(days=int(value))


class RotateForm(forms.Form):
    """The grace period of a rotation: how long the old token keeps working."""

    grace = forms.TypedChoiceField(
        label=_("Old tokens keep working for"),
        choices=GRACE_CHOICES,
        coerce=int,
        initial=3600,
    )
