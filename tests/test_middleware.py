"""SlidingTokenMiddleware: the X-New-Token contract of SPEC section 6."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import async_to_sync, iscoroutinefunction
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory
from rest_framework.test import APIClient

from django_tokenkit import services, signals, tokens
from django_tokenkit.middleware import SlidingTokenMiddleware, add_renewal_headers
from django_tokenkit.models import RevokeReason, Session
from django_tokenkit.services import sliding
from tests.helpers import FROZEN_AT, get, login

START = FROZEN_AT


@pytest.fixture
def logged_in(frozen: Any, api_client: APIClient, user: Any) -> dict[str, Any]:
    return login(api_client)


def test_middleware_token_far_from_expiry_adds_no_header_and_touches_nothing(
    logged_in: dict[str, Any],
    api_client: APIClient,
    frozen: Any,
    monkeypatch: pytest.MonkeyPatch,
    django_assert_num_queries: Any,
) -> None:
    frozen.shift(timedelta(minutes=9, seconds=59))  # 5 min 1 s left
    get(api_client, logged_in["access"])  # warm the revocation cache
    calls: list[str] = []
    monkeypatch.setattr(sliding, "renew_access_token", lambda *a, **k: calls.append("renew"))
    with django_assert_num_queries(0):
        response = get(api_client, logged_in["access"])
    assert response.status_code == 200
    assert "X-New-Token" not in response.headers
    assert calls == []


def test_middleware_token_within_threshold_gets_renewed_token(
    logged_in: dict[str, Any], api_client: APIClient, frozen: Any
) -> None:
    old = tokens.decode(logged_in["access"], tokens.ACCESS)
    frozen.shift(timedelta(minutes=11))
    response = get(api_client, logged_in["access"])
    assert response.status_code == 200
    new = tokens.decode(response.headers["X-New-Token"], tokens.ACCESS)
    assert (new.sub, new.sid, new.claims["auth_time"]) == (
        old.sub,
        old.sid,
        old.claims["auth_time"],
    )
    assert new.jti != old.jti
    assert new.expires_at == START + timedelta(minutes=11 + 15)
    assert response.headers["X-New-Token-Expires-In"] == str(15 * 60)
    exposed = response.headers["Access-Control-Expose-Headers"]
    assert "X-New-Token" in exposed
    assert "X-New-Token-Expires-In" in exposed


@pytest.mark.parametrize(
    ("elapsed", "renewed"),
    [
        (timedelta(minutes=10), True),  # exactly the threshold left
        (timedelta(minutes=10) - timedelta(seconds=1), False),  # one second more left
        (timedelta(minutes=14, seconds=59), True),
    ],
)
def test_middleware_threshold_edges(
    logged_in: dict[str, Any],
    api_client: APIClient,
    frozen: Any,
    elapsed: timedelta,
    renewed: bool,
) -> None:
    frozen.shift(elapsed)
    response = get(api_client, logged_in["access"])
    assert response.status_code == 200
    assert ("X-New-Token" in response.headers) is renewed


def test_middleware_renewal_never_outlives_session_cap(
    settings: Any, api_client: APIClient, user: Any, frozen: Any
) -> None:
    settings.TOKENKIT = {**settings.TOKENKIT, "SESSION_MAX_LIFETIME": 60 * 60}
    pair = login(api_client)
    frozen.shift(timedelta(minutes=40))
    refreshed = api_client.post(
        "/api/auth/token/refresh/", {"refresh": pair["refresh"]}, format="json"
    ).json()
    frozen.shift(timedelta(minutes=12))  # 3 min left; the cap is 8 min away, not 15
    response = get(api_client, refreshed["access"])
    new = tokens.decode(response.headers["X-New-Token"], tokens.ACCESS)
    assert new.expires_at == START + timedelta(hours=1)


def test_middleware_cap_reached_adds_no_header(
    settings: Any, api_client: APIClient, user: Any, frozen: Any
) -> None:
    settings.TOKENKIT = {**settings.TOKENKIT, "SESSION_MAX_LIFETIME": 10 * 60}
    pair = login(api_client)  # the access token already ends at the cap
    frozen.shift(timedelta(minutes=8))
    response = get(api_client, pair["access"])
    assert response.status_code == 200
    assert "X-New-Token" not in response.headers


def test_middleware_failed_request_adds_no_header(
    logged_in: dict[str, Any], api_client: APIClient, frozen: Any
) -> None:
    frozen.shift(timedelta(minutes=12))
    response = get(api_client, logged_in["access"], "/api/rejecting/")
    assert response.status_code == 400
    assert "X-New-Token" not in response.headers


def test_middleware_revoked_session_adds_no_header(
    logged_in: dict[str, Any],
    api_client: APIClient,
    frozen: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    frozen.shift(timedelta(minutes=12))
    with django_capture_on_commit_callbacks(execute=True):
        services.revoke_session_id(
            tokens.decode(logged_in["access"], tokens.ACCESS).sid, RevokeReason.ADMIN
        )
    for path in ("/api/whoami/", "/api/public/"):
        response = get(api_client, logged_in["access"], path)
        assert response.status_code == 401
        assert response.json()["code"] == "token_revoked"
        assert "X-New-Token" not in response.headers


def test_middleware_inactive_user_adds_no_header(
    logged_in: dict[str, Any], api_client: APIClient, frozen: Any, user: Any
) -> None:
    user.is_active = False
    user.save()
    frozen.shift(timedelta(minutes=12))
    response = get(api_client, logged_in["access"])
    assert response.status_code == 401
    assert "X-New-Token" not in response.headers


def test_middleware_session_authentication_adds_no_header(
    api_client: APIClient, user: Any, frozen: Any
) -> None:
    api_client.force_login(user)
    response = api_client.get("/api/session-only/")
    assert response.status_code == 200
    assert "X-New-Token" not in response.headers


def test_middleware_anonymous_request_adds_no_header(api_client: APIClient, db: Any) -> None:
    response = api_client.get("/api/public/")
    assert response.status_code == 200
    assert response.json() == {"authenticated": False}
    assert "X-New-Token" not in response.headers


def test_middleware_same_old_token_gets_one_new_token_and_one_signal(
    logged_in: dict[str, Any], api_client: APIClient, frozen: Any
) -> None:
    fired: list[dict[str, Any]] = []

    def receiver(**kwargs: Any) -> None:
        fired.append(kwargs)

    signals.token_reissued.connect(receiver)
    try:
        frozen.shift(timedelta(minutes=11))
        first = get(api_client, logged_in["access"]).headers["X-New-Token"]
        frozen.shift(timedelta(seconds=20))
        second = get(api_client, logged_in["access"]).headers["X-New-Token"]
    finally:
        signals.token_reissued.disconnect(receiver)
    assert first == second
    assert len(fired) == 1
    old = tokens.decode(logged_in["access"], tokens.ACCESS)
    assert fired[0]["old_jti"] == old.jti
    assert fired[0]["sid"] == old.sid
    assert fired[0]["jti"] == tokens.decode(first, tokens.ACCESS).jti


def test_middleware_client_adopting_new_token_keeps_working_past_old_expiry(
    logged_in: dict[str, Any], api_client: APIClient, frozen: Any
) -> None:
    access = logged_in["access"]
    for _ in range(6):  # an hour and a half of steady use, a request every 15 min - 1 s
        frozen.shift(timedelta(minutes=14, seconds=59))
        response = get(api_client, access)
        assert response.status_code == 200
        assert response.headers.get("X-New-Token"), "no renewal before expiry"
        old, access = access, response.headers["X-New-Token"]
        frozen.shift(timedelta(seconds=31))  # the old token is past exp + leeway
        assert get(api_client, old).json()["code"] == "token_expired"
        assert get(api_client, access).status_code == 200
        frozen.shift(timedelta(seconds=-31))


def test_middleware_old_token_stays_valid_until_its_expiry(
    logged_in: dict[str, Any], api_client: APIClient, frozen: Any
) -> None:
    frozen.shift(timedelta(minutes=11))
    assert "X-New-Token" in get(api_client, logged_in["access"]).headers
    frozen.shift(timedelta(minutes=3))
    assert get(api_client, logged_in["access"]).status_code == 200


def test_middleware_renewal_records_last_use_once(
    logged_in: dict[str, Any], api_client: APIClient, frozen: Any
) -> None:
    session = Session.objects.get()
    frozen.shift(timedelta(minutes=11))
    get(api_client, logged_in["access"])
    session.refresh_from_db()
    assert session.last_used_at == START + timedelta(minutes=11)
    frozen.shift(timedelta(minutes=1))
    get(api_client, logged_in["access"])  # same old token: no new renewal, no write
    session.refresh_from_db()
    assert session.last_used_at == START + timedelta(minutes=11)


def test_middleware_unreachable_cache_adds_no_header_and_no_error(
    logged_in: dict[str, Any], api_client: APIClient, frozen: Any, settings: Any
) -> None:
    settings.CACHES = {
        **settings.CACHES,
        "broken": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2},
        },
    }
    settings.TOKENKIT = {**settings.TOKENKIT, "CACHE_ALIAS": "broken"}
    frozen.shift(timedelta(minutes=11))
    response = get(api_client, logged_in["access"])
    assert response.status_code == 200
    assert "X-New-Token" not in response.headers


def test_add_renewal_headers_appends_to_existing_expose_list(
    logged_in: dict[str, Any],
) -> None:
    response = HttpResponse()
    response["Access-Control-Expose-Headers"] = "X-Request-Id, x-new-token"
    token = tokens.decode(logged_in["access"], tokens.ACCESS)
    add_renewal_headers(response, logged_in["access"], token)
    assert response["Access-Control-Expose-Headers"] == (
        "X-Request-Id, x-new-token, X-New-Token-Expires-In"
    )


def test_middleware_async_stack_adds_header(
    logged_in: dict[str, Any], frozen: Any, transactional_db: Any
) -> None:
    frozen.shift(timedelta(minutes=11))
    token = tokens.decode(logged_in["access"], tokens.ACCESS)
    request = RequestFactory().get("/")

    async def view(request: HttpRequest) -> HttpResponse:
        # What DRF's authentication leaves behind; HttpRequest declares no .auth.
        request.auth = token  # type: ignore[attr-defined]
        return HttpResponse("ok")

    middleware = SlidingTokenMiddleware(view)
    assert iscoroutinefunction(middleware)
    # async_to_sync keeps the middleware's thread-sensitive database work on
    # this thread and its connection, as under a real ASGI server.
    response = async_to_sync(middleware)(request)
    assert tokens.decode(response["X-New-Token"], tokens.ACCESS).sid == token.sid


def test_middleware_sync_stack_ignores_foreign_auth_objects(db: Any) -> None:
    request = RequestFactory().get("/")

    def view(request: HttpRequest) -> HttpResponse:
        # As DRF would leave it; HttpRequest declares no .auth.
        request.auth = "some other package's token"  # type: ignore[attr-defined]
        return HttpResponse("ok")

    response = SlidingTokenMiddleware(view)(request)
    assert "X-New-Token" not in response
