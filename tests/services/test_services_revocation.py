"""Revocation (:mod:`django_tokenkit.services.revocation`): its signal and its lock order.

The races below are refresh racing every revocation source: one lock order,
no deadlock (PostgreSQL).

Refresh and revocation both touch a session's row and its tokens' rows. Taken
in opposite orders they deadlock: PostgreSQL aborts one transaction after
``deadlock_timeout`` and the client sees a 503 (and a lost logout leaves the
session alive). Each test here releases a refresh and one revocation source
together, with real threads on their own database connections, several
times over, and checks that nothing failed and that the session ended
revoked. SQLite has no row locks, so these run on the services half.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection, transaction
from rest_framework.test import APIClient

from django_tokenkit import signals, tokens
from django_tokenkit.models import BlacklistedToken, IssuedToken, RevokeReason, Session
from django_tokenkit.services import revocation
from tests.e2e import run_concurrently
from tests.helpers import bearer, login

needs_row_locks = pytest.mark.skipif(
    os.environ.get("DATABASE_URL", "").split(":")[0] not in {"postgres", "postgresql"},
    reason="needs PostgreSQL: SQLite has no row locks, so nothing can deadlock there",
)

ROUNDS = 6

#: A revocation source: given the login's pair and the user's pk, revoke its session.
Source = Callable[[dict[str, Any], Any], Any]


def _sid(pair: dict[str, Any]) -> str:
    return tokens.decode(pair["access"], tokens.ACCESS).sid


def _http_status(response: Any) -> int:
    return int(response.status_code)


def _logout(pair: dict[str, Any], user_pk: Any) -> int:
    return _http_status(
        APIClient().post("/api/auth/logout/", {"refresh": pair["refresh"]}, format="json")
    )


def _logout_all(pair: dict[str, Any], user_pk: Any) -> int:
    return _http_status(
        APIClient().post(
            "/api/auth/logout/", {"all": True}, format="json", **bearer(pair["access"])
        )
    )


def _sessions_delete(pair: dict[str, Any], user_pk: Any) -> int:
    return _http_status(
        APIClient().delete(f"/api/auth/sessions/{_sid(pair)}/", **bearer(pair["access"]))
    )


def _admin_revoke_selected_sessions(pair: dict[str, Any], user_pk: Any) -> int:
    # What SessionAdmin.revoke_selected passes on.
    return revocation.revoke_sessions(
        Session.objects.filter(pk=_sid(pair)).only("pk"), RevokeReason.ADMIN
    )


def _admin_revoke_users(pair: dict[str, Any], user_pk: Any) -> int:
    # What the "revoke all tokens of these users" actions pass on.
    return revocation.revoke_users([user_pk], RevokeReason.ADMIN)


def _password_change(pair: dict[str, Any], user_pk: Any) -> None:
    user = get_user_model()._default_manager.get(pk=user_pk)
    user.set_password("a new password entirely")
    user.save()


def _deactivation(pair: dict[str, Any], user_pk: Any) -> None:
    user = get_user_model()._default_manager.get(pk=user_pk)
    user.is_active = False
    user.save()


def _command_session(pair: dict[str, Any], user_pk: Any) -> None:
    call_command("tokenkit_revoke", "--session", _sid(pair), verbosity=0)


def _command_user(pair: dict[str, Any], user_pk: Any) -> None:
    call_command("tokenkit_revoke", "--user", str(user_pk), verbosity=0)


SOURCES: dict[str, Source] = {
    "logout": _logout,
    "logout-all": _logout_all,
    "sessions-delete": _sessions_delete,
    "admin-revoke-sessions": _admin_revoke_selected_sessions,
    "admin-revoke-users": _admin_revoke_users,
    "password-change": _password_change,
    "deactivation": _deactivation,
    "command-session": _command_session,
    "command-user": _command_user,
}


def _on_own_connection(call: Callable[[], Any]) -> Callable[[], Any]:
    """``call`` in a thread with its own connection, closed when it is done."""

    def run() -> Any:
        try:
            return call()
        finally:
            connection.close()

    return run


def _refresh(raw: str) -> Any:
    return APIClient().post("/api/auth/token/refresh/", {"refresh": raw}, format="json")


def _assert_refresh_answered_cleanly(response: Any) -> None:
    """200 when the refresh went first, 401 ``token_revoked`` when revocation did."""
    assert response.status_code in {200, 401}, response.content
    if response.status_code == 401:
        assert response.json()["code"] == "token_revoked", response.content


@needs_row_locks
@pytest.mark.parametrize("source", list(SOURCES))
def test_refresh_racing_revocation_source_never_fails_and_session_ends_revoked(
    transactional_db: Any, source: str
) -> None:
    user_model = get_user_model()
    revoke = SOURCES[source]
    for round_number in range(ROUNDS):
        user = user_model.objects.create_user(
            username=f"racer-{round_number}", password="correct horse battery staple"
        )
        pair = login(
            APIClient(), username=user.get_username(), password="correct horse battery staple"
        )

        refreshed, revoked = run_concurrently(
            [
                _on_own_connection(partial(_refresh, pair["refresh"])),
                _on_own_connection(partial(revoke, pair, user.pk)),
            ]
        )

        _assert_refresh_answered_cleanly(refreshed)
        if isinstance(revoked, int) and revoked >= 200:  # an HTTP status
            assert revoked == 204, f"round {round_number}: {source} answered {revoked}"
        session = Session.objects.get(pk=_sid(pair))
        assert session.revoked_at is not None, f"round {round_number}: {source} lost"


@needs_row_locks
def test_refresh_racing_reuse_detection_never_fails_and_session_ends_revoked(
    transactional_db: Any, settings: Any
) -> None:
    """A retired token presented after its grace period races a refresh of its successor."""
    settings.TOKENKIT = {**settings.TOKENKIT, "REFRESH_GRACE_PERIOD": timedelta(0)}
    user_model = get_user_model()
    for round_number in range(ROUNDS):
        user = user_model.objects.create_user(
            username=f"racer-{round_number}", password="correct horse battery staple"
        )
        first = login(
            APIClient(), username=user.get_username(), password="correct horse battery staple"
        )
        second = _refresh(first["refresh"]).json()

        live, reused = run_concurrently(
            [
                _on_own_connection(partial(_refresh, second["refresh"])),
                _on_own_connection(partial(_refresh, first["refresh"])),
            ]
        )

        _assert_refresh_answered_cleanly(live)
        assert reused.status_code == 401, reused.content
        assert reused.json()["code"] == "token_reused"
        session = Session.objects.get(pk=_sid(first))
        assert session.revoked_at is not None, f"round {round_number}: reuse lost"
        assert session.revoke_reason == RevokeReason.REUSE


@needs_row_locks
def test_refresh_racing_admin_token_revocation_never_fails_and_blacklists_the_token(
    transactional_db: Any,
) -> None:
    """The admin's "revoke selected" on issued tokens: the session stays, the token goes."""
    user_model = get_user_model()
    for round_number in range(ROUNDS):
        user = user_model.objects.create_user(
            username=f"racer-{round_number}", password="correct horse battery staple"
        )
        pair = login(
            APIClient(), username=user.get_username(), password="correct horse battery staple"
        )
        jti = tokens.decode(pair["refresh"], tokens.REFRESH).jti
        records = list(IssuedToken.objects.select_related("session").filter(jti=jti))

        refreshed, count = run_concurrently(
            [
                _on_own_connection(partial(_refresh, pair["refresh"])),
                _on_own_connection(
                    partial(revocation.revoke_issued_tokens, records, RevokeReason.ADMIN)
                ),
            ]
        )

        assert refreshed.status_code in {200, 401}, refreshed.content
        assert count == 2  # the refresh token and the access token issued with it
        assert BlacklistedToken.objects.filter(jti=jti).exists()
        assert IssuedToken.objects.get(jti=jti).revoked_at is not None


def test_revoke_token_sends_token_revoked_after_commit(
    pair: dict[str, Any], user: Any, django_capture_on_commit_callbacks: Any
) -> None:
    token = tokens.decode(pair["access"], tokens.ACCESS)
    received: list[dict[str, Any]] = []

    def receiver(sender: Any, **kwargs: Any) -> None:
        received.append({"sender": sender, **kwargs})

    signals.token_revoked.connect(receiver, weak=False)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            assert revocation.revoke_token(token, RevokeReason.ADMIN) is True
            assert received == []
        with django_capture_on_commit_callbacks(execute=True):
            assert revocation.revoke_token(token, RevokeReason.ADMIN) is False
    finally:
        signals.token_revoked.disconnect(receiver)

    assert received == [
        {
            "sender": BlacklistedToken,
            "signal": signals.token_revoked,
            "unit": "token",
            "identifier": token.jti,
            "reason": RevokeReason.ADMIN,
            "user_id": user.pk,
        }
    ]


@pytest.mark.parametrize("sid", ["", "not-a-uuid", "0" * 33])
def test_revoke_session_id_malformed_id_revokes_nothing(pair: dict[str, Any], sid: str) -> None:
    assert revocation.revoke_session_id(sid, RevokeReason.ADMIN) == 0
    assert not Session.objects.filter(revoked_at__isnull=False).exists()


def test_lock_sessions_returns_existing_sessions_in_primary_key_order(
    api_client: APIClient, user: Any
) -> None:
    sids = [_sid(login(api_client)) for _ in range(3)]
    missing = uuid.uuid4()

    with transaction.atomic():
        locked = revocation.lock_sessions([*map(uuid.UUID, reversed(sids)), missing])

    assert [session.pk for session in locked] == sorted(map(uuid.UUID, sids))
