"""Refresh-token cookie mode (SPEC section 5, TOKENKIT["REFRESH_COOKIE"])."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest
from django.test import Client
from rest_framework.test import APIClient

from django_tokenkit import tokens
from django_tokenkit.models import Session
from tests.helpers import PASSWORD

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


def csrf_header(client: APIClient) -> dict[str, Any]:
    """Request kwargs (the test client's ``**extra``) for the CSRF token header."""
    return {"HTTP_X_CSRFTOKEN": client.cookies["csrftoken"].value}


CREDENTIALS = {"username": "alice", "password": PASSWORD}
ATTACKER = "https://attacker.example"

# The three bodies an HTML form on another site can submit: (content type, body).
FORM_BODIES = {
    "urlencoded": ("application/x-www-form-urlencoded", urlencode(CREDENTIALS)),
    "multipart": (None, CREDENTIALS),  # the test client's default encoding
    # enctype="text/plain" with a field named '{"username": ...,"x": "' (the classic trick).
    "text-plain": ("text/plain", json.dumps(CREDENTIALS)),
}


def post_login(client: Client, content_type: str | None, body: Any, **headers: Any) -> Any:
    if content_type is None:
        return client.post("/api/auth/token/", body, **headers)
    return client.post("/api/auth/token/", body, content_type=content_type, **headers)


def json_login(client: Client, **headers: Any) -> Any:
    return post_login(client, "application/json", json.dumps(CREDENTIALS), **headers)


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


# --- login CSRF (issue 10, item 7) ----------------------------------------------


@pytest.mark.parametrize("origin", [ATTACKER, None], ids=["cross-site", "no-origin"])
@pytest.mark.parametrize("kind", sorted(FORM_BODIES))
def test_login_cookie_mode_form_body_is_forbidden_and_sets_no_cookie(
    cookie_mode: None, user: Any, kind: str, origin: str | None
) -> None:
    """A cross-site form post cannot log the visitor in to the attacker's account."""
    content_type, body = FORM_BODIES[kind]
    headers = {"HTTP_ORIGIN": origin} if origin else {}

    response = post_login(Client(enforce_csrf_checks=True), content_type, body, **headers)

    assert response.status_code == 403
    assert response.json()["code"] == "csrf_failed"
    assert COOKIE not in response.cookies
    assert not Session.objects.exists()


def test_login_cookie_mode_without_content_type_is_forbidden(cookie_mode: None, user: Any) -> None:
    """A no-cors ``fetch`` of an untyped Blob sends no Content-Type at all."""
    response = Client(enforce_csrf_checks=True).generic(
        "POST", "/api/auth/token/", json.dumps(CREDENTIALS), content_type=""
    )

    assert response.status_code == 403
    assert response.json()["code"] == "csrf_failed"
    assert COOKIE not in response.cookies


@pytest.mark.parametrize("origin", [ATTACKER, "null", "https://testserver"])
def test_login_cookie_mode_json_from_foreign_origin_is_forbidden(
    cookie_mode: None, user: Any, origin: str
) -> None:
    """A JSON login from a page the API does not trust (CORS let it through, say)."""
    response = json_login(Client(enforce_csrf_checks=True), HTTP_ORIGIN=origin)

    assert response.status_code == 403
    assert response.json()["code"] == "csrf_failed"
    assert COOKIE not in response.cookies
    assert not Session.objects.exists()


@pytest.mark.parametrize("origin", ["http://testserver", None], ids=["same-origin", "no-origin"])
def test_login_cookie_mode_same_origin_json_sets_cookie(
    cookie_mode: None, user: Any, origin: str | None
) -> None:
    """The single-page app's first login: one JSON POST, no csrftoken yet."""
    headers = {"HTTP_ORIGIN": origin} if origin else {}

    response = json_login(Client(enforce_csrf_checks=True), **headers)

    assert response.status_code == 200
    assert "refresh" not in response.json()
    assert tokens.decode(response.cookies[COOKIE].value, tokens.REFRESH).sid


def test_login_cookie_mode_json_from_trusted_origin_sets_cookie(
    cookie_mode: None, user: Any, settings: Any
) -> None:
    settings.CSRF_TRUSTED_ORIGINS = ["https://app.example"]

    response = json_login(Client(enforce_csrf_checks=True), HTTP_ORIGIN="https://app.example")

    assert response.status_code == 200
    assert COOKIE in response.cookies


def test_login_cookie_mode_with_csrf_cookie_needs_csrf_header(browser: APIClient) -> None:
    """Once the browser holds csrftoken, login gets Django's full check, as refresh does."""
    client = Client(enforce_csrf_checks=True)
    client.cookies = browser.cookies
    same_origin = {"HTTP_ORIGIN": "http://testserver"}

    refused = json_login(client, **same_origin)
    accepted = json_login(
        client, **same_origin, HTTP_X_CSRFTOKEN=browser.cookies["csrftoken"].value
    )

    assert refused.status_code == 403
    assert refused.json()["code"] == "csrf_failed"
    assert COOKIE not in refused.cookies
    assert accepted.status_code == 200
    assert COOKIE in accepted.cookies


def test_login_cookie_mode_get_is_still_405(cookie_mode: None, db: Any) -> None:
    response = Client(enforce_csrf_checks=True).get("/api/auth/token/")

    assert response.status_code == 405


def test_login_without_cookie_mode_accepts_form_unchanged(user: Any) -> None:
    """Outside cookie mode nothing is planted in the browser, so a form still logs in."""
    content_type, body = FORM_BODIES["urlencoded"]

    response = post_login(Client(enforce_csrf_checks=True), content_type, body)

    assert response.status_code == 200
    assert "refresh" in response.json()
    assert COOKIE not in response.cookies


def test_login_without_cookie_mode_ignores_origin(user: Any) -> None:
    response = json_login(Client(enforce_csrf_checks=True), HTTP_ORIGIN=ATTACKER)

    assert response.status_code == 200
    assert "refresh" in response.json()
    assert COOKIE not in response.cookies
