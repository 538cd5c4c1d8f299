"""tokenkit's models: query helpers, display, and never a raw token at rest."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.apps import apps
from django.utils import timezone
from rest_framework.test import APIClient

from django_tokenkit import services, tokens
from django_tokenkit.models import (
    BlacklistedToken,
    IssuedToken,
    RevokeReason,
    Session,
    TokenStatus,
)
from tests.helpers import concrete_field, login


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
    for model in apps.get_app_config("tokenkit").get_models():
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
        concrete_field(IssuedToken, "jti"),
        concrete_field(IssuedToken, "access_jti"),
        concrete_field(BlacklistedToken, "jti"),
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


# --- status rules: one per model, for a row and for a queryset -------------------------


def _make_token(session: Session, jti: str, now: Any, **fields: Any) -> IssuedToken:
    values = {"expires_at": now + timedelta(days=1), **fields}
    token: IssuedToken = IssuedToken.objects.create(jti=jti, session=session, **values)
    return token


def _assert_rule_agrees(queryset: Any, expected: dict[Any, str], now: Any) -> None:
    """Each row's ``status(now)`` is as expected, and ``with_status`` finds exactly those rows."""
    rows = {row.pk: row for row in queryset}
    assert {pk: row.status(now) for pk, row in rows.items()} == {pk: expected[pk] for pk in rows}
    for status in queryset.statuses:
        found = set(queryset.with_status(status, now).values_list("pk", flat=True))
        assert found == {pk for pk, want in expected.items() if want == status}, status


def test_session_status_row_and_queryset_agree_at_the_boundaries(user: Any) -> None:
    now = timezone.now()
    expected = {
        make_session(user, expires_at=now + timedelta(seconds=1)).pk: TokenStatus.ACTIVE,
        make_session(user, expires_at=now).pk: TokenStatus.EXPIRED,
        make_session(user, expires_at=now - timedelta(days=1)).pk: TokenStatus.EXPIRED,
        make_session(user, revoked_at=now).pk: TokenStatus.REVOKED,
        # Revoked wins over expired.
        make_session(user, revoked_at=now, expires_at=now - timedelta(days=1)).pk: (
            TokenStatus.REVOKED
        ),
    }
    _assert_rule_agrees(Session.objects.all(), expected, now)
    assert set(Session.objects.revoked()) == set(Session.objects.with_status("revoked", now))
    assert set(Session.objects.expired(now)) == set(Session.objects.with_status("expired", now))


def test_issued_token_status_row_and_queryset_agree_at_the_boundaries(user: Any) -> None:
    now = timezone.now()
    session = make_session(user)
    expected = {
        _make_token(session, "active", now).pk: TokenStatus.ACTIVE,
        _make_token(session, "expired", now, expires_at=now).pk: TokenStatus.EXPIRED,
        _make_token(session, "rotated", now, rotated_at=now).pk: TokenStatus.ROTATED,
        # Rotated wins over expired, revoked over both.
        _make_token(
            session, "rotated-expired", now, rotated_at=now, expires_at=now - timedelta(days=1)
        ).pk: TokenStatus.ROTATED,
        _make_token(session, "revoked", now, revoked_at=now, rotated_at=now).pk: (
            TokenStatus.REVOKED
        ),
    }
    _assert_rule_agrees(IssuedToken.objects.all(), expected, now)
    assert list(IssuedToken.objects.active(now).values_list("pk", flat=True)) == ["active"]
    assert set(IssuedToken.objects.rotated().values_list("pk", flat=True)) == {
        "rotated",
        "rotated-expired",
    }
    assert list(IssuedToken.objects.revoked().values_list("pk", flat=True)) == ["revoked"]


def test_blacklisted_token_status_row_and_queryset_agree_at_the_boundaries(user: Any) -> None:
    now = timezone.now()

    def entry(jti: str, expires_at: Any) -> str:
        row: BlacklistedToken = BlacklistedToken.objects.create(
            jti=jti, token_type="access", user=user, expires_at=expires_at
        )
        return row.jti

    expected = {
        entry("in-force", now + timedelta(seconds=1)): TokenStatus.IN_FORCE,
        entry("expired-now", now): TokenStatus.EXPIRED,
        entry("expired", now - timedelta(days=1)): TokenStatus.EXPIRED,
    }
    _assert_rule_agrees(BlacklistedToken.objects.all(), expected, now)
    assert list(BlacklistedToken.objects.in_force(now).values_list("pk", flat=True)) == ["in-force"]


def test_status_without_a_moment_judges_at_the_current_time(user: Any) -> None:
    now = timezone.now()
    session = make_session(user, expires_at=now + timedelta(hours=1))
    assert session.status() == TokenStatus.ACTIVE
    assert list(Session.objects.with_status(TokenStatus.ACTIVE)) == [session]
    with time_machine.travel(now + timedelta(hours=2)):
        assert session.status() == TokenStatus.EXPIRED
        assert list(Session.objects.expired()) == [session]


@pytest.mark.parametrize(
    ("queryset", "status"),
    [
        (Session.objects, TokenStatus.ROTATED),
        (Session.objects, TokenStatus.IN_FORCE),
        (IssuedToken.objects, TokenStatus.IN_FORCE),
        (BlacklistedToken.objects, TokenStatus.REVOKED),
        (Session.objects, "nonsense"),
    ],
)
def test_with_status_a_model_cannot_have_raises_value_error(queryset: Any, status: str) -> None:
    with pytest.raises(ValueError, match="has no status"):
        queryset.with_status(status)


def test_not_revoked_keeps_expired_rows_that_active_leaves_out(user: Any) -> None:
    now = timezone.now()
    live = make_session(user)
    expired = make_session(user, expires_at=now - timedelta(days=1))
    make_session(user, revoked_at=now, expires_at=now - timedelta(days=1))
    session = make_session(user)
    _make_token(session, "live", now)
    _make_token(session, "expired", now, expires_at=now - timedelta(days=1))
    _make_token(session, "rotated", now, rotated_at=now)
    _make_token(session, "revoked", now, revoked_at=now)

    assert set(Session.objects.not_revoked()) == {live, expired, session}
    assert set(Session.objects.active(now)) == {live, session}
    assert set(IssuedToken.objects.not_revoked().values_list("pk", flat=True)) == {
        "live",
        "expired",
        "rotated",
    }


def test_not_revoked_on_a_model_that_cannot_be_revoked_raises_value_error() -> None:
    with pytest.raises(ValueError, match="has no status 'revoked'"):
        BlacklistedToken.objects.not_revoked()


def test_token_status_labels_are_the_admins_words() -> None:
    assert dict(TokenStatus.choices) == {
        "active": "active",
        "expired": "expired",
        "revoked": "revoked",
        "rotated": "rotated",
        "in_force": "still in force",
    }
    assert TokenStatus("in_force").label == "still in force"


@pytest.mark.parametrize(
    ("refresh_in", "access_in", "expired"),
    [
        (timedelta(days=1), timedelta(minutes=5), False),
        (timedelta(days=1), None, False),
        # The access token can outlive the refresh token (ACCESS_TOKEN_LIFETIME > REFRESH_...).
        (timedelta(0), timedelta(minutes=5), False),
        (timedelta(0), timedelta(0), True),
        (-timedelta(days=1), None, True),
    ],
)
def test_issued_token_pair_expired_only_once_both_tokens_expired(
    user: Any, refresh_in: timedelta, access_in: timedelta | None, expired: bool
) -> None:
    now = timezone.now()
    record = IssuedToken(
        jti="pair",
        session=make_session(user),
        expires_at=now + refresh_in,
        access_expires_at=None if access_in is None else now + access_in,
    )
    assert record.pair_expired(now) is expired
