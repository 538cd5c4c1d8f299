"""tokenkit's models: query helpers, display, and never a raw token at rest."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.apps import apps
from django.utils import timezone
from rest_framework.test import APIClient

from django_tokenkit import services, tokens
from django_tokenkit.models import BlacklistedToken, IssuedToken, RevokeReason, Session
from tests.conftest import login


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
