"""tokenkit's models: query helpers, display, and never a raw token at rest."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.apps import apps
from django.utils import timezone
from rest_framework.test import APIClient

from django_tokenkit import services, tokens
from django_tokenkit.models import BlacklistedToken, IssuedToken, RevokeReason, Session
from tests.helpers import login


def make_session(user: Any, **fields: Any) -> Session:
    now = timezone.now()
    values = {"auth_time": now, "expires_at": now + timedelta(days=30), **fields}
    session: Session = Session.objects.create(user=user, **values)
    return session


def test_session_active_excludes_revoked_and_expired(user: Any) -> None:
    now = timezone.now()
    active = make_session(user)
    make_session(user, revoked_at=now, revoke_reason=RevokeReason.LOGOUT)
    make_session(user, expires_at=now - timedelta(seconds=1))
    make_session(user, expires_at=now)

    assert list(Session.objects.active()) == [active]


def test_session_active_at_given_moment(user: Any) -> None:
    now = timezone.now()
    short = make_session(user, expires_at=now + timedelta(hours=1))
    long = make_session(user, expires_at=now + timedelta(days=1))

    assert set(Session.objects.active(now)) == {short, long}
    assert list(Session.objects.active(now + timedelta(hours=2))) == [long]


def test_session_str_names_id_and_user(user: Any) -> None:
    session = make_session(user)

    assert str(session) == f"{session.id} ({user.pk})"


def test_session_sid_matches_token_claim(api_client: APIClient, user: Any) -> None:
    pair = login(api_client)
    session = Session.objects.get()

    assert session.sid == str(session.id)
    assert isinstance(session.sid, str)
    assert tokens.decode(pair["access"], tokens.ACCESS).sid == session.sid
    assert tokens.decode(pair["refresh"], tokens.REFRESH).sid == session.sid


def test_issued_and_blacklisted_token_str_name_type_and_jti(
    api_client: APIClient, user: Any
) -> None:
    pair = login(api_client)
    access = tokens.decode(pair["access"], tokens.ACCESS)
    services.revoke_token(access, RevokeReason.ADMIN)

    issued = IssuedToken.objects.get()
    assert str(issued) == f"refresh {issued.jti}"
    assert str(BlacklistedToken.objects.get()) == f"access {access.jti}"


def _row_values() -> list[str]:
    values: list[str] = []
    for model in apps.get_app_config("django_tokenkit").get_models():
        for row in model._default_manager.values_list():
            values.extend(str(value) for value in row if value is not None)
    return values


def test_models_store_no_raw_token(api_client: APIClient, user: Any) -> None:
    first = login(api_client)
    second = api_client.post(
        "/api/auth/token/refresh/", {"refresh": first["refresh"]}, format="json"
    ).json()
    services.revoke_token(tokens.decode(second["access"], tokens.ACCESS), RevokeReason.ADMIN)
    services.revoke_token(tokens.decode(second["refresh"], tokens.REFRESH), RevokeReason.ADMIN)
    assert IssuedToken.objects.count() == 2
    assert BlacklistedToken.objects.count() == 2

    stored = "\n".join(_row_values())

    for raw in (first["access"], first["refresh"], second["access"], second["refresh"]):
        signature = raw.rsplit(".", 1)[1]
        assert raw not in stored
        assert signature not in stored


# --- the token id format (tokens.is_well_formed_jti) ---------------------------------


def test_jti_columns_hold_the_longest_well_formed_jti() -> None:
    columns = [
        IssuedToken._meta.get_field("jti"),
        IssuedToken._meta.get_field("access_jti"),
        BlacklistedToken._meta.get_field("jti"),
    ]
    assert {column.max_length for column in columns} == {tokens.JTI_MAX_LENGTH}


def test_is_well_formed_jti_accepts_every_new_jti() -> None:
    assert all(tokens.is_well_formed_jti(tokens.new_jti()) for _ in range(200))


@pytest.mark.parametrize(
    "jti", ["a", "-leading-dash", "0" * 32, "a" * 64, "123e4567-e89b-12d3-a456-426614174000"]
)
def test_is_well_formed_jti_accepts_base64url_ids_up_to_the_column(jti: str) -> None:
    assert tokens.is_well_formed_jti(jti)


@pytest.mark.parametrize(
    "value",
    ["", "\x00", "abc\x00def", "a" * 65, "two words", "a/b", "a+b", "a=", "é", "a\n", None, 12],
)
def test_is_well_formed_jti_rejects_what_no_token_id_can_be(value: Any) -> None:
    assert not tokens.is_well_formed_jti(value)
