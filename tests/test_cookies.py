"""Refresh-token cookie mode (SPEC section 5, TOKENKIT["REFRESH_COOKIE"])."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from django_tokenkit import tokens
from tests.conftest import PASSWORD

COOKIE = "tokenkit_refresh"


@pytest.fixture
def cookie_mode(settings: Any) -> None:
    settings.TOKENKIT = {**settings.TOKENKIT, "REFRESH_COOKIE": True}


@pytest.fixture
def browser(cookie_mode: None, user: Any) -> APIClient:
    """A client that enforces CSRF like a browser, logged in in cookie mode."""
    client = APIClient(enforce_csrf_checks=True)
    response = client.post(
        "/api/auth/token/", {"username": "alice", "password": PASSWORD}, format="json"
    )
    assert response.status_code == 200
    return client


def csrf_header(client: APIClient) -> dict[str, str]:
    return {"HTTP_X_CSRFTOKEN": client.cookies["csrftoken"].value}


def test_login_cookie_mode_sets_httponly_secure_cookie_and_omits_refresh(
    cookie_mode: None, user: Any
) -> None:
    client = APIClient(enforce_csrf_checks=True)
    response = client.post(
        "/api/auth/token/", {"username": "alice", "password": PASSWORD}, format="json"
    )
    assert response.status_code == 200
    body = response.json()
    assert "refresh" not in body
    assert set(body) == {"access", "token_type", "expires_in", "refresh_expires_in"}
    cookie = response.cookies[COOKIE]
    assert tokens.decode(cookie.value, tokens.REFRESH).sid
    assert cookie["httponly"] is True
    assert cookie["secure"] is True
    assert cookie["samesite"] == "Lax"
    assert cookie["path"] == "/api/auth/"
    assert "csrftoken" in response.cookies  # for the app to echo in X-CSRFToken


def test_login_cookie_mode_respects_configured_attributes(settings: Any, user: Any) -> None:
    settings.TOKENKIT = {
        **settings.TOKENKIT,
        "REFRESH_COOKIE": True,
        "REFRESH_COOKIE_NAME": "rt",
        "REFRESH_COOKIE_SECURE": False,
        "REFRESH_COOKIE_SAMESITE": "Strict",
        "REFRESH_COOKIE_PATH": "/api/auth/token/",
    }
    response = APIClient().post(
        "/api/auth/token/", {"username": "alice", "password": PASSWORD}, format="json"
    )
    cookie = response.cookies["rt"]
    assert cookie["secure"] == ""
    assert cookie["samesite"] == "Strict"
    assert cookie["path"] == "/api/auth/token/"


def test_refresh_cookie_mode_with_csrf_token_rotates_cookie(browser: APIClient) -> None:
    old = browser.cookies[COOKIE].value
    response = browser.post("/api/auth/token/refresh/", {}, format="json", **csrf_header(browser))
    assert response.status_code == 200
    assert "refresh" not in response.json()
    new = response.cookies[COOKIE].value
    assert new != old
    assert tokens.decode(new, tokens.REFRESH).sid == tokens.decode(old, tokens.REFRESH).sid


def test_refresh_cookie_mode_without_csrf_token_is_forbidden(browser: APIClient) -> None:
    response = browser.post("/api/auth/token/refresh/", {}, format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "csrf_failed"


def test_refresh_cookie_mode_with_wrong_csrf_token_is_forbidden(browser: APIClient) -> None:
    response = browser.post(
        "/api/auth/token/refresh/", {}, format="json", HTTP_X_CSRFTOKEN="x" * 64
    )
    assert response.status_code == 403


def test_refresh_cookie_mode_body_token_needs_no_csrf(browser: APIClient, user: Any) -> None:
    """A non-browser client sending the token itself is no CSRF risk."""
    raw = browser.cookies[COOKIE].value
    response = APIClient(enforce_csrf_checks=True).post(
        "/api/auth/token/refresh/", {"refresh": raw}, format="json"
    )
    assert response.status_code == 200
    assert COOKIE in response.cookies


def test_refresh_cookie_mode_no_cookie_no_body_is_400(cookie_mode: None, db: Any) -> None:
    response = APIClient().post("/api/auth/token/refresh/", {}, format="json")
    assert response.status_code == 400
    assert "refresh" in response.json()


def test_refresh_cookie_mode_dead_token_clears_cookie(
    browser: APIClient, django_capture_on_commit_callbacks: Any
) -> None:
    headers = csrf_header(browser)
    raw = browser.cookies[COOKIE].value
    with django_capture_on_commit_callbacks(execute=True):
        assert browser.post("/api/auth/logout/", {}, format="json", **headers).status_code == 204
    browser.cookies[COOKIE] = raw  # a second tab still holding the old cookie
    response = browser.post("/api/auth/token/refresh/", {}, format="json", **headers)
    assert response.json()["code"] == "token_revoked"
    assert response.cookies[COOKIE].value == ""


def test_logout_cookie_mode_revokes_cookie_session_and_clears_cookie(
    browser: APIClient, django_capture_on_commit_callbacks: Any
) -> None:
    raw = browser.cookies[COOKIE].value
    with django_capture_on_commit_callbacks(execute=True):
        response = browser.post("/api/auth/logout/", {}, format="json", **csrf_header(browser))
    assert response.status_code == 204
    assert response.cookies[COOKIE].value == ""
    assert response.cookies[COOKIE]["path"] == "/api/auth/"
    replay = APIClient().post("/api/auth/token/refresh/", {"refresh": raw}, format="json")
    assert replay.json()["code"] == "token_revoked"


def test_logout_cookie_mode_without_csrf_token_is_forbidden(browser: APIClient) -> None:
    response = browser.post("/api/auth/logout/", {}, format="json")
    assert response.status_code == 403


def test_refresh_without_cookie_mode_ignores_cookie(browser: APIClient, settings: Any) -> None:
    settings.TOKENKIT = {**settings.TOKENKIT, "REFRESH_COOKIE": False}
    response = browser.post("/api/auth/token/refresh/", {}, format="json", **csrf_header(browser))
    assert response.status_code == 400
