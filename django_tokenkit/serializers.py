"""Request validation for tokenkit's views: strict types, bounded sizes.

DRF's ``CharField`` turns ``123`` into ``"123"`` and ``BooleanField`` takes
``"yes"``; for credentials a client sending the wrong JSON type is a bug we
report with a 400 rather than guess about.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from django_tokenkit.services.api_tokens import LONGEST_LIFETIME, MAX_GRACE, NAME_MAX_LENGTH

#: Longer passwords are refused before hashing: hashing cost grows with length.
PASSWORD_MAX_LENGTH = 1024
USERNAME_MAX_LENGTH = 512


class StrictCharField(serializers.CharField):
    """A ``CharField`` that accepts only JSON strings."""

    default_error_messages = {"invalid": _("Not a valid string.")}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return str(super().to_internal_value(data))


class StrictBooleanField(serializers.BooleanField):
    """A ``BooleanField`` that accepts only JSON ``true`` and ``false``."""

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class LoginSerializer(serializers.Serializer[Any]):
    """``{"<USERNAME_FIELD>": str, "password": str}``."""

    password = StrictCharField(max_length=PASSWORD_MAX_LENGTH, trim_whitespace=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields[self.username_field] = StrictCharField(max_length=USERNAME_MAX_LENGTH)

    @property
    def username_field(self) -> str:
        return str(get_user_model().USERNAME_FIELD)


class RefreshSerializer(serializers.Serializer[Any]):
    """``{"refresh": str}``, optional in cookie mode; the service checks the token."""

    refresh = StrictCharField(required=False, trim_whitespace=False)


class LogoutSerializer(serializers.Serializer[Any]):
    """``{"refresh"?: str, "all"?: bool}``."""

    refresh = StrictCharField(required=False, trim_whitespace=False)
    all = StrictBooleanField(required=False, default=False)


class SessionSerializer(serializers.Serializer[Any]):
    """One of the user's sessions, as ``GET sessions/`` lists it."""

    id = serializers.UUIDField(read_only=True)
    created = serializers.DateTimeField(source="created_at", read_only=True)
    last_used = serializers.DateTimeField(source="last_used_at", read_only=True)
    expires = serializers.DateTimeField(source="expires_at", read_only=True)
    ip = serializers.IPAddressField(source="ip_address", read_only=True)
    user_agent = serializers.CharField(read_only=True)
    current = serializers.SerializerMethodField()

    def get_current(self, session: Any) -> bool:
        return str(session.pk) == self.context.get("current_sid")


#: The bounds are checked here, before a ``timedelta`` is built: a huge number
#: of seconds would overflow it.
LONGEST_LIFETIME_SECONDS = int(LONGEST_LIFETIME.total_seconds())
#: Scopes one token may carry: far more than any project defines, small enough
#: that a hostile list costs nothing to check.
MAX_SCOPES = 64
#: A scope name's longest accepted length (longer ones cannot be configured names).
SCOPE_MAX_LENGTH = 200


class StrictIntegerField(serializers.IntegerField):
    """An ``IntegerField`` that accepts only JSON integers.

    DRF's takes ``"90"``, ``90.0`` and ``true`` (Python's ``bool`` is an
    ``int``); a lifetime sent as anything but a whole number is a client bug.
    """

    default_error_messages = {"invalid": _("A whole number of seconds is required.")}

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return int(super().to_internal_value(data))


class APITokenCreateSerializer(serializers.Serializer[Any]):
    """``{"name": str, "expires_in": seconds | null, "scopes"?: [str]}``.

    ``expires_in`` is required, and ``null`` is the explicit "never": a token
    handed to a job must not have a lifetime nobody chose. Ranges, the
    maximum lifetime and unknown scopes are the service's to judge, so every
    door (endpoint, admin, command) refuses the same things.
    """

    name = StrictCharField(max_length=NAME_MAX_LENGTH)
    expires_in = StrictIntegerField(
        allow_null=True, min_value=1, max_value=LONGEST_LIFETIME_SECONDS
    )
    scopes = serializers.ListField(
        child=StrictCharField(max_length=SCOPE_MAX_LENGTH),
        required=False,
        default=list,
        max_length=MAX_SCOPES,
    )


class APITokenRotateSerializer(serializers.Serializer[Any]):
    """``{"grace_seconds"?: 0..86400, "expires_in"?: seconds | null}``.

    A missing ``expires_in`` keeps the old token's lifetime; ``null`` asks
    for a token that never expires.
    """

    grace_seconds = StrictIntegerField(
        required=False, default=0, min_value=0, max_value=int(MAX_GRACE.total_seconds())
    )
    expires_in = StrictIntegerField(
        required=False, allow_null=True, min_value=1, max_value=LONGEST_LIFETIME_SECONDS
    )


class APITokenSerializer(serializers.Serializer[Any]):
    """An API token as ``api-tokens/`` lists it: never the token itself.

    The create and rotate answers add ``token``, the one time it is shown.
    """

    id = serializers.UUIDField(read_only=True)
    name = serializers.CharField(read_only=True)
    hint = serializers.CharField(read_only=True)
    scopes = serializers.ListField(child=serializers.CharField(), read_only=True)
    created = serializers.DateTimeField(source="created_at", read_only=True)
    #: null: never expires (chosen explicitly at creation).
    expires_at = serializers.DateTimeField(read_only=True, allow_null=True)
    #: null: not used yet.
    last_used_at = serializers.DateTimeField(read_only=True, allow_null=True)


class TokenFormSerializer(serializers.Serializer[Any]):
    """RFC 7009 / RFC 7662 form: ``token`` and an optional ``token_type_hint``.

    A hint tokenkit does not know is kept and ignored (both RFCs let the
    server search every type); only a missing or non-string ``token`` is a
    400.
    """

    token = StrictCharField(trim_whitespace=False)
    token_type_hint = StrictCharField(required=False, allow_blank=True, max_length=64)
