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


class TokenFormSerializer(serializers.Serializer[Any]):
    """RFC 7009 / RFC 7662 form: ``token`` and an optional ``token_type_hint``.

    A hint tokenkit does not know is kept and ignored (both RFCs let the
    server search every type); only a missing or non-string ``token`` is a
    400.
    """

    token = StrictCharField(trim_whitespace=False)
    token_type_hint = StrictCharField(required=False, allow_blank=True, max_length=64)
