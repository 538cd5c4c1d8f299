"""The HTTP API of SPEC section 5, end to end through DRF's test client."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connections
from django.dispatch import Signal
from django.http import HttpRequest
from rest_framework.test import APIClient

from django_tokenkit import signals, tokens
from django_tokenkit.models import IssuedToken, RevokeReason, Session
from tests.helpers import FROZEN_AT, PASSWORD, assert_unauthorized, bearer, login, whoami

LOGIN_URL = "/api/auth/token/"
REFRESH_URL = "/api/auth/token/refresh/"
LOGOUT_URL = "/api/auth/logout/"

#: A whole second, so lifetimes computed from "now" come out exact.
START = FROZEN_AT
PAIR_KEYS = {"access", "refresh", "token_type", "expires_in", "refresh_expires_in"}


@pytest.fixture
def tokenkit(settings: Any) -> Callable[..., None]:
    """Set ``TOKENKIT`` keys on top of the suite's (which disables login throttling)."""

    def configure(**overrides: Any) -> None:
        settings.TOKENKIT = {**settings.TOKENKIT, **overrides}

    return configure


@pytest.fixture
def received() -> Iterator[Callable[[Signal], list[dict[str, Any]]]]:
    """``received(signal)`` starts recording the signal's sends and returns the list."""
    connected: list[tuple[Signal, Callable[..., None]]] = []

    def listen(signal: Signal) -> list[dict[str, Any]]:
        calls: list[dict[str, Any]] = []

        def receiver(sender: Any, **kwargs: Any) -> None:
            calls.append({"sender": sender, **kwargs})

        signal.connect(receiver, weak=False)
        connected.append((signal, receiver))
        return calls

    yield listen
    for signal, receiver in connected:
        signal.disconnect(receiver)


def post_refresh(client: APIClient, refresh: str) -> Any:
    return client.post(REFRESH_URL, {"refresh": refresh}, format="json")


def claims(raw: str, token_type: tokens.TokenType = tokens.ACCESS) -> tokens.Token:
    return tokens.decode(raw, token_type, verify_exp=False)


# --- login ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "expires_in", "refresh_expires_in"),
    [
        ({}, 15 * 60, 7 * 24 * 3600),
        ({"ACCESS_TOKEN_LIFETIME": 60, "REFRESH_TOKEN_LIFETIME": 7200}, 60, 7200),
        (
            {"ACCESS_TOKEN_LIFETIME": timedelta(minutes=5), "SESSION_MAX_LIFETIME": 3600},
            5 * 60,
            3600,
        ),
    ],
    ids=["defaults", "configured", "capped-by-session"],
)
def test_login_valid_credentials_returns_pair(
    api_client: APIClient,
    user: Any,
    frozen: Any,
    tokenkit: Callable[..., None],
    overrides: dict[str, Any],
    expires_in: int,
    refresh_expires_in: int,
) -> None:
    tokenkit(**overrides)

    response = api_client.post(
        LOGIN_URL, {"username": "alice", "password": PASSWORD}, format="json"
    )

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    data = response.json()
    assert set(data) == PAIR_KEYS
    assert data["token_type"] == "Bearer"
    assert type(data["expires_in"]) is int
    assert type(data["refresh_expires_in"]) is int
    assert data["expires_in"] == expires_in
    assert data["refresh_expires_in"] == refresh_expires_in
    assert claims(data["access"]).sub == str(user.pk)
    assert claims(data["refresh"], tokens.REFRESH).sid == claims(data["access"]).sid
    assert whoami(api_client, data["access"]).json()["username"] == "alice"


def test_login_records_one_session_per_login(api_client: APIClient, user: Any) -> None:
    first = login(api_client)
    second = login(api_client)

    assert Session.objects.filter(user=user).count() == 2
    assert claims(first["access"]).sid != claims(second["access"]).sid


@pytest.mark.parametrize(
    ("username", "password", "active"),
    [
        ("alice", "wrong password", True),
        ("mallory", PASSWORD, True),
        ("alice", PASSWORD, False),
        ("ALICE", PASSWORD, True),
    ],
    ids=["wrong-password", "unknown-user", "inactive-user", "wrong-case"],
)
def test_login_bad_credentials_returns_401_invalid_credentials(
    api_client: APIClient, user: Any, username: str, password: str, active: bool
) -> None:
    user.is_active = active
    user.save()

    response = api_client.post(
        LOGIN_URL, {"username": username, "password": password}, format="json"
    )

    assert_unauthorized(response, "invalid_credentials", token_presented=False)
    assert response["Cache-Control"] == "no-store"
    assert not Session.objects.exists()


def test_login_inactive_user_with_permissive_backend_returns_401(
    api_client: APIClient, user: Any, settings: Any
) -> None:
    # This backend authenticates inactive users; the view must refuse them itself.
    settings.AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.AllowAllUsersModelBackend"]
    user.is_active = False
    user.save()

    response = api_client.post(
        LOGIN_URL, {"username": "alice", "password": PASSWORD}, format="json"
    )

    assert_unauthorized(response, "invalid_credentials", token_presented=False)
    assert not Session.objects.exists()


JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


def creds(username: bytes = b'"alice"', password: bytes = b'"x"') -> bytes:
    """A JSON login body with the given raw JSON values."""
    return b'{"username": ' + username + b', "password": ' + password + b"}"


HOSTILE_BODIES: list[tuple[str, bytes, str, int]] = [
    ("empty-object", b"{}", JSON, 400),
    ("missing-password", b'{"username": "alice"}', JSON, 400),
    ("missing-username", b'{"password": "x"}', JSON, 400),
    ("username-number", creds(username=b"123"), JSON, 400),
    ("password-null", creds(password=b"null"), JSON, 400),
    ("password-object", creds(password=b'{"a": 1}'), JSON, 400),
    ("password-bool", creds(password=b"true"), JSON, 400),
    ("username-list", creds(username=b'["alice"]'), JSON, 400),
    ("list-body", b'["alice", "x"]', JSON, 400),
    ("string-body", b'"alice"', JSON, 400),
    ("null-body", b"null", JSON, 400),
    ("number-body", b"12", JSON, 400),
    ("nan", creds(username=b"NaN"), JSON, 400),
    ("malformed-json", b'{"username": "alice", "password": ', JSON, 400),
    ("trailing-garbage", b'{"username": "alice"} xx', JSON, 400),
    ("invalid-utf8", creds(username=b'"\xff\xfe"'), JSON, 400),
    ("nul-in-username", creds(username=b'"ali\\u0000ce"'), JSON, 400),
    ("lone-surrogate-username", creds(username=b'"\\ud800"'), JSON, 400),
    ("lone-surrogate-password", creds(password=b'"\\udfff"'), JSON, 400),
    ("username-too-long", creds(username=b'"' + b"a" * 600 + b'"'), JSON, 400),
    ("password-too-long", creds(password=b'"' + b"p" * 2000 + b'"'), JSON, 400),
    ("nested-100k", b"[" * 100_000, JSON, 400),
    ("nested-in-size-limit", b"[" * 15_000, JSON, 400),
    ("nested-objects", b'{"a":' * 3_000, JSON, 400),
    ("nested-value", creds(username=b"[" * 10_000), JSON, 400),
    ("over-16k", creds(password=b'"' + b"x" * 17_000 + b'"'), JSON, 400),
    ("empty-json", b"", JSON, 400),
    ("form-missing", b"username=alice", FORM, 400),
    ("form-1001-fields", "&".join(f"f{i}=1" for i in range(1001)).encode(), FORM, 400),
    # QueryDict decodes with errors="replace": a wrong password, not a malformed body.
    ("form-invalid-utf8", b"username=%ff&password=%fe", FORM, 401),
    (
        "multipart",
        b'--b\r\nContent-Disposition: form-data; name="username"\r\n\r\nalice\r\n--b--\r\n',
        "multipart/form-data; boundary=b",
        415,
    ),
    ("text-plain", b"username=alice", "text/plain", 415),
    ("xml", b"<username>alice</username>", "application/xml", 415),
]


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [case[1:] for case in HOSTILE_BODIES],
    ids=[case[0] for case in HOSTILE_BODIES],
)
def test_login_hostile_body_returns_4xx_not_500(
    api_client: APIClient, user: Any, body: bytes, content_type: str, status: int
) -> None:
    response = api_client.post(LOGIN_URL, data=body, content_type=content_type)

    assert response.status_code == status, response.content
    assert not Session.objects.exists()


@pytest.mark.parametrize("content_length", ["10000000000", "16385", "-1", "abc"])
def test_login_lying_content_length_returns_400(
    api_client: APIClient, user: Any, content_length: str
) -> None:
    response = api_client.post(
        LOGIN_URL,
        data=b'{"username": "alice", "password": "x"}',
        content_type="application/json",
        CONTENT_LENGTH=content_length,
    )

    assert response.status_code == 400, response.content
    assert not Session.objects.exists()


def test_login_form_encoded_credentials_returns_pair(api_client: APIClient, user: Any) -> None:
    response = api_client.post(
        LOGIN_URL, {"username": "alice", "password": PASSWORD}, format=None
    )  # DRF's test default is multipart, which these views refuse
    assert response.status_code == 415

    response = api_client.post(
        LOGIN_URL,
        data=f"username=alice&password={PASSWORD}".replace(" ", "+"),
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 200
    assert set(response.json()) == PAIR_KEYS


def test_login_third_attempt_from_one_ip_returns_429_throttled(
    api_client: APIClient, user: Any, settings: Any
) -> None:
    settings.TOKENKIT = {"LOGIN_THROTTLE_RATE": "2/min"}
    body = {"username": "alice", "password": PASSWORD}

    assert api_client.post(LOGIN_URL, body, format="json").status_code == 200
    wrong = api_client.post(LOGIN_URL, {**body, "password": "nope"}, format="json")
    assert wrong.status_code == 401
    response = api_client.post(LOGIN_URL, body, format="json")

    assert response.status_code == 429
    assert response.json()["code"] == "throttled"
    assert Session.objects.count() == 1


def test_login_throttle_counts_per_ip(api_client: APIClient, user: Any, settings: Any) -> None:
    settings.TOKENKIT = {"LOGIN_THROTTLE_RATE": "2/min"}
    body = {"username": "alice", "password": PASSWORD}
    for _ in range(2):
        assert api_client.post(LOGIN_URL, body, format="json").status_code == 200
    assert api_client.post(LOGIN_URL, body, format="json").status_code == 429

    response = api_client.post(LOGIN_URL, body, format="json", REMOTE_ADDR="192.0.2.7")

    assert response.status_code == 200


def test_login_throttle_ignores_spoofed_forwarded_for(
    api_client: APIClient, user: Any, settings: Any
) -> None:
    # Without NUM_PROXIES nobody vouches for X-Forwarded-For: a client that
    # invents a new address per attempt must not get a fresh allowance.
    settings.TOKENKIT = {"LOGIN_THROTTLE_RATE": "2/min"}
    body = {"username": "alice", "password": "guess"}
    statuses = [
        api_client.post(
            LOGIN_URL, body, format="json", HTTP_X_FORWARDED_FOR=f"198.51.100.{attempt}"
        ).status_code
        for attempt in range(4)
    ]

    assert statuses == [401, 401, 429, 429]


def test_login_throttle_window_passes_allows_again(
    api_client: APIClient, user: Any, settings: Any, frozen: Any
) -> None:
    settings.TOKENKIT = {"LOGIN_THROTTLE_RATE": "2/min"}
    body = {"username": "alice", "password": PASSWORD}
    for _ in range(2):
        assert api_client.post(LOGIN_URL, body, format="json").status_code == 200
    assert api_client.post(LOGIN_URL, body, format="json").status_code == 429

    frozen.shift(61)

    assert api_client.post(LOGIN_URL, body, format="json").status_code == 200


# --- refresh ------------------------------------------------------------------


def test_refresh_valid_token_returns_new_pair(api_client: APIClient, pair: dict[str, Any]) -> None:
    response = post_refresh(api_client, pair["refresh"])

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    data = response.json()
    assert set(data) == PAIR_KEYS
    assert data["token_type"] == "Bearer"
    assert data["access"] != pair["access"]
    assert data["refresh"] != pair["refresh"]
    assert claims(data["access"]).sid == claims(pair["access"]).sid
    assert whoami(api_client, data["access"]).status_code == 200
    assert post_refresh(api_client, data["refresh"]).status_code == 200
    assert IssuedToken.objects.count() == 3


@pytest.mark.parametrize("retry_after", [0, 1, 10, 30])
def test_refresh_retry_within_grace_returns_identical_pair_without_rotating(
    api_client: APIClient, user: Any, frozen: Any, retry_after: int
) -> None:
    pair = login(api_client)
    frozen.shift(60)
    first = post_refresh(api_client, pair["refresh"])
    assert first.status_code == 200
    assert IssuedToken.objects.count() == 2

    frozen.shift(retry_after)
    retry = post_refresh(api_client, pair["refresh"])

    assert retry.status_code == 200
    assert retry.json()["access"] == first.json()["access"]
    assert retry.json()["refresh"] == first.json()["refresh"]
    assert IssuedToken.objects.count() == 2
    assert IssuedToken.objects.filter(rotated_at__isnull=True).count() == 1


def test_refresh_reuse_after_grace_returns_401_and_revokes_session(
    api_client: APIClient,
    user: Any,
    frozen: Any,
    received: Callable[[Signal], list[dict[str, Any]]],
    caplog: pytest.LogCaptureFixture,
    django_capture_on_commit_callbacks: Any,
) -> None:
    pair = login(api_client)
    assert whoami(api_client, pair["access"]).status_code == 200  # cached as active
    rotated = post_refresh(api_client, pair["refresh"]).json()
    assert whoami(api_client, rotated["access"]).status_code == 200
    reused = received(signals.refresh_token_reused)
    frozen.shift(31)

    with (
        caplog.at_level(logging.WARNING, logger="django_tokenkit.services.rotation"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = post_refresh(api_client, pair["refresh"])

    assert_unauthorized(response, "token_reused")
    assert_unauthorized(whoami(api_client, pair["access"]), "token_revoked")
    assert_unauthorized(whoami(api_client, rotated["access"]), "token_revoked")
    assert_unauthorized(post_refresh(api_client, rotated["refresh"]), "token_revoked")
    session = Session.objects.get()
    assert session.revoke_reason == RevokeReason.REUSE
    assert len(reused) == 1
    assert reused[0]["user"] == user
    assert reused[0]["session"].sid == session.sid
    assert reused[0]["jti"] == claims(pair["refresh"], tokens.REFRESH).jti
    assert isinstance(reused[0]["request"], HttpRequest)
    warnings = [
        record
        for record in caplog.records
        if record.name == "django_tokenkit.services.rotation" and record.levelno == logging.WARNING
    ]
    assert len(warnings) == 1
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for raw in (pair["refresh"], pair["access"], rotated["refresh"], rotated["access"]):
        assert raw not in logged
        assert raw.rsplit(".", 1)[1] not in logged


def test_refresh_reuse_when_grace_is_zero_returns_401_at_once(
    api_client: APIClient, user: Any, frozen: Any, tokenkit: Callable[..., None]
) -> None:
    tokenkit(REFRESH_GRACE_PERIOD=0)
    pair = login(api_client)
    assert post_refresh(api_client, pair["refresh"]).status_code == 200
    frozen.shift(1)

    assert_unauthorized(post_refresh(api_client, pair["refresh"]), "token_reused")


def test_refresh_expired_token_returns_401_token_expired(
    api_client: APIClient, user: Any, frozen: Any
) -> None:
    pair = login(api_client)
    frozen.shift(timedelta(days=7, seconds=31))

    assert_unauthorized(post_refresh(api_client, pair["refresh"]), "token_expired")
    assert IssuedToken.objects.count() == 1


@pytest.mark.parametrize("past_cap", [5, 7200], ids=["within-leeway", "well-past"])
def test_refresh_past_session_cap_returns_401_token_expired(
    api_client: APIClient,
    user: Any,
    frozen: Any,
    tokenkit: Callable[..., None],
    past_cap: int,
) -> None:
    tokenkit(SESSION_MAX_LIFETIME=3600, REFRESH_TOKEN_LIFETIME=timedelta(days=1))
    pair = login(api_client)
    frozen.shift(3600 + past_cap)

    assert_unauthorized(post_refresh(api_client, pair["refresh"]), "token_expired")
    assert IssuedToken.objects.count() == 1


def test_refresh_near_session_cap_never_outlives_it(
    api_client: APIClient, user: Any, frozen: Any, tokenkit: Callable[..., None]
) -> None:
    tokenkit(SESSION_MAX_LIFETIME=3600, REFRESH_TOKEN_LIFETIME=timedelta(days=1))
    pair = login(api_client)
    cap = int((START + timedelta(seconds=3600)).timestamp())
    assert claims(pair["refresh"], tokens.REFRESH)["exp"] == cap
    frozen.shift(50 * 60)

    response = post_refresh(api_client, pair["refresh"])

    assert response.status_code == 200
    data = response.json()
    assert claims(data["refresh"], tokens.REFRESH)["exp"] == cap
    assert claims(data["access"])["exp"] == cap
    assert data["expires_in"] == 600
    assert data["refresh_expires_in"] == 600
    assert claims(data["access"])["auth_time"] == int(START.timestamp())


def test_refresh_after_idle_timeout_returns_401_token_expired(
    api_client: APIClient, user: Any, frozen: Any, tokenkit: Callable[..., None]
) -> None:
    tokenkit(SESSION_IDLE_TIMEOUT=600)
    pair = login(api_client)
    frozen.shift(601)

    assert_unauthorized(post_refresh(api_client, pair["refresh"]), "token_expired")


def test_refresh_within_idle_timeout_keeps_session_alive(
    api_client: APIClient, user: Any, frozen: Any, tokenkit: Callable[..., None]
) -> None:
    tokenkit(SESSION_IDLE_TIMEOUT=600)
    refresh = login(api_client)["refresh"]
    for _ in range(3):
        frozen.shift(590)
        response = post_refresh(api_client, refresh)
        assert response.status_code == 200
        refresh = response.json()["refresh"]


def test_refresh_with_access_token_returns_401_token_invalid(
    api_client: APIClient, pair: dict[str, Any]
) -> None:
    assert_unauthorized(post_refresh(api_client, pair["access"]), "token_invalid")
    assert IssuedToken.objects.count() == 1


@pytest.mark.parametrize(
    "mangle",
    [
        lambda raw: "garbage",
        lambda raw: "a.b.c",
        lambda raw: raw[:-2] + ("AA" if raw[-2:] != "AA" else "BB"),
        lambda raw: raw + ".extra",
        lambda raw: raw.replace(".", "..", 1),
        lambda raw: raw + "x" * 5000,
        lambda raw: "é" + raw,
    ],
    ids=[
        "garbage",
        "three-parts",
        "bad-signature",
        "four-parts",
        "empty-part",
        "huge",
        "non-ascii",
    ],
)
def test_refresh_invalid_token_returns_401_token_invalid(
    api_client: APIClient, pair: dict[str, Any], mangle: Callable[[str], str]
) -> None:
    assert_unauthorized(post_refresh(api_client, mangle(pair["refresh"])), "token_invalid")


@pytest.mark.parametrize(
    "body",
    [{}, {"refresh": ""}, {"refresh": 123}, {"refresh": None}, {"refresh": ["x"]}, ["x"], "x"],
    ids=["missing", "empty", "number", "null", "list", "list-body", "string-body"],
)
def test_refresh_malformed_body_returns_400(api_client: APIClient, body: Any) -> None:
    assert api_client.post(REFRESH_URL, body, format="json").status_code == 400


def test_refresh_revoked_session_returns_401_token_revoked(
    api_client: APIClient, pair: dict[str, Any]
) -> None:
    assert (
        api_client.post(LOGOUT_URL, {"refresh": pair["refresh"]}, format="json").status_code == 204
    )

    assert_unauthorized(post_refresh(api_client, pair["refresh"]), "token_revoked")


def test_refresh_inactive_user_returns_401_token_revoked(
    api_client: APIClient, user: Any, pair: dict[str, Any]
) -> None:
    user.is_active = False
    user.save()

    assert_unauthorized(post_refresh(api_client, pair["refresh"]), "token_revoked")


def test_refresh_deleted_user_returns_401_token_revoked(
    api_client: APIClient, user: Any, pair: dict[str, Any]
) -> None:
    user.delete()

    assert_unauthorized(post_refresh(api_client, pair["refresh"]), "token_revoked")


def test_refresh_rotation_off_returns_same_refresh_and_new_access(
    api_client: APIClient, user: Any, frozen: Any, tokenkit: Callable[..., None]
) -> None:
    tokenkit(ROTATE_REFRESH_TOKENS=False)
    pair = login(api_client)

    for _ in range(2):
        frozen.shift(60)
        response = post_refresh(api_client, pair["refresh"])
        assert response.status_code == 200
        assert response.json()["refresh"] == pair["refresh"]
        assert response.json()["access"] != pair["access"]
        assert whoami(api_client, response.json()["access"]).status_code == 200

    assert IssuedToken.objects.count() == 1


# --- logout -------------------------------------------------------------------


def test_logout_refresh_in_body_ends_that_session(
    api_client: APIClient,
    user: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    pair = login(api_client)
    other = login(api_client)
    assert whoami(api_client, pair["access"]).status_code == 200  # cached as active

    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(LOGOUT_URL, {"refresh": pair["refresh"]}, format="json")

    assert response.status_code == 204
    assert response.content == b""
    assert_unauthorized(whoami(api_client, pair["access"]), "token_revoked")
    assert_unauthorized(post_refresh(api_client, pair["refresh"]), "token_revoked")
    assert whoami(api_client, other["access"]).status_code == 200
    assert post_refresh(api_client, other["refresh"]).status_code == 200


def test_logout_bearer_only_ends_that_session(
    api_client: APIClient, pair: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    assert whoami(api_client, pair["access"]).status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(LOGOUT_URL, {}, format="json", **bearer(pair["access"]))

    assert response.status_code == 204
    assert_unauthorized(whoami(api_client, pair["access"]), "token_revoked")
    assert_unauthorized(post_refresh(api_client, pair["refresh"]), "token_revoked")
    assert Session.objects.get().revoke_reason == RevokeReason.LOGOUT


def test_logout_empty_body_with_bearer_ends_session(
    api_client: APIClient, pair: dict[str, Any]
) -> None:
    response = api_client.post(LOGOUT_URL, **bearer(pair["access"]))

    assert response.status_code == 204
    assert Session.objects.get().revoked_at is not None


def test_logout_expired_access_token_is_accepted(
    api_client: APIClient, user: Any, frozen: Any
) -> None:
    pair = login(api_client)
    frozen.shift(timedelta(hours=1))
    assert_unauthorized(whoami(api_client, pair["access"]), "token_expired")

    response = api_client.post(LOGOUT_URL, {}, format="json", **bearer(pair["access"]))

    assert response.status_code == 204
    assert_unauthorized(post_refresh(api_client, pair["refresh"]), "token_revoked")


def test_logout_expired_refresh_token_is_accepted(
    api_client: APIClient, user: Any, frozen: Any
) -> None:
    pair = login(api_client)
    frozen.shift(timedelta(days=8))

    response = api_client.post(LOGOUT_URL, {"refresh": pair["refresh"]}, format="json")

    assert response.status_code == 204
    assert Session.objects.get().revoked_at is not None


def test_logout_all_revokes_every_session_of_the_user(
    api_client: APIClient,
    user: Any,
    other_user: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    first = login(api_client)
    second = login(api_client)
    bobs = login(api_client, "bob")
    for pair in (first, second, bobs):
        assert whoami(api_client, pair["access"]).status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(
            LOGOUT_URL, {"all": True}, format="json", **bearer(first["access"])
        )

    assert response.status_code == 204
    for pair in (first, second):
        assert_unauthorized(whoami(api_client, pair["access"]), "token_revoked")
        assert_unauthorized(post_refresh(api_client, pair["refresh"]), "token_revoked")
    assert whoami(api_client, bobs["access"]).json()["username"] == "bob"
    assert post_refresh(api_client, bobs["refresh"]).status_code == 200
    assert set(Session.objects.filter(user=user).values_list("revoke_reason", flat=True)) == {
        RevokeReason.LOGOUT_ALL
    }


def test_logout_all_without_auth_returns_401_not_authenticated(
    api_client: APIClient, pair: dict[str, Any]
) -> None:
    response = api_client.post(LOGOUT_URL, {"all": True, "refresh": pair["refresh"]}, format="json")

    assert_unauthorized(response, "not_authenticated", token_presented=False)
    assert Session.objects.get().revoked_at is None


@pytest.mark.parametrize(
    ("header", "code"),
    [("Bearer garbage", "token_invalid"), ("Bearer", "token_invalid")],
)
def test_logout_all_with_bad_bearer_returns_401(
    api_client: APIClient, pair: dict[str, Any], header: str, code: str
) -> None:
    response = api_client.post(LOGOUT_URL, {"all": True}, format="json", HTTP_AUTHORIZATION=header)

    assert_unauthorized(response, code)
    assert Session.objects.get().revoked_at is None


def test_logout_all_with_expired_bearer_returns_401_token_expired(
    api_client: APIClient, user: Any, frozen: Any
) -> None:
    pair = login(api_client)
    frozen.shift(timedelta(hours=1))

    response = api_client.post(LOGOUT_URL, {"all": True}, format="json", **bearer(pair["access"]))

    assert_unauthorized(response, "token_expired")
    assert Session.objects.get().revoked_at is None


@pytest.mark.parametrize("body", [{}, {"all": False}, None], ids=["empty", "all-false", "no-body"])
def test_logout_nothing_presented_returns_400(api_client: APIClient, body: Any) -> None:
    response = api_client.post(LOGOUT_URL, body, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "nothing_to_log_out"


def test_logout_garbage_refresh_returns_401_token_invalid(
    api_client: APIClient, pair: dict[str, Any]
) -> None:
    response = api_client.post(LOGOUT_URL, {"refresh": "garbage"}, format="json")

    assert_unauthorized(response, "token_invalid")
    assert Session.objects.get().revoked_at is None


def test_logout_access_token_as_refresh_returns_401_token_invalid(
    api_client: APIClient, pair: dict[str, Any]
) -> None:
    response = api_client.post(LOGOUT_URL, {"refresh": pair["access"]}, format="json")

    assert_unauthorized(response, "token_invalid")
    assert Session.objects.get().revoked_at is None


@pytest.mark.parametrize(
    "body",
    [{"all": "yes"}, {"all": 1}, {"all": "true"}, {"all": None}, {"refresh": 5}, ["all"]],
    ids=["all-yes", "all-one", "all-string-true", "all-null", "refresh-number", "list-body"],
)
def test_logout_malformed_body_returns_400(
    api_client: APIClient, pair: dict[str, Any], body: Any
) -> None:
    response = api_client.post(LOGOUT_URL, body, format="json", **bearer(pair["access"]))

    assert response.status_code == 400
    assert Session.objects.get().revoked_at is None


# --- signals ------------------------------------------------------------------


def test_login_sends_token_obtained(
    api_client: APIClient, user: Any, received: Callable[[Signal], list[dict[str, Any]]]
) -> None:
    obtained = received(signals.token_obtained)

    pair = login(api_client)

    assert len(obtained) == 1
    call = obtained[0]
    assert set(call) == {"sender", "signal", "user", "session", "request"}
    assert call["sender"] is Session
    assert call["user"] == user
    assert call["session"].sid == claims(pair["access"]).sid
    assert isinstance(call["request"], HttpRequest)


def test_refresh_sends_token_refreshed_with_rotated(
    api_client: APIClient,
    user: Any,
    frozen: Any,
    received: Callable[[Signal], list[dict[str, Any]]],
) -> None:
    refreshed = received(signals.token_refreshed)
    pair = login(api_client)

    post_refresh(api_client, pair["refresh"])
    post_refresh(api_client, pair["refresh"])  # a retry within the grace period

    assert [call["rotated"] for call in refreshed] == [True, False]
    for call in refreshed:
        assert set(call) == {"sender", "signal", "user", "session", "request", "rotated"}
        assert call["sender"] is Session
        assert call["user"] == user
        assert call["session"].sid == claims(pair["access"]).sid
        assert isinstance(call["request"], HttpRequest)


def test_logout_sends_token_revoked_after_commit(
    api_client: APIClient,
    user: Any,
    pair: dict[str, Any],
    received: Callable[[Signal], list[dict[str, Any]]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    revoked = received(signals.token_revoked)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        api_client.post(LOGOUT_URL, {"refresh": pair["refresh"]}, format="json")
    assert revoked == []  # nothing is announced before the revocation commits
    for callback in callbacks:
        callback()

    assert revoked == [
        {
            "sender": Session,
            "signal": signals.token_revoked,
            "unit": "session",
            "identifier": claims(pair["access"]).sid,
            "reason": RevokeReason.LOGOUT,
            "user_id": user.pk,
        }
    ]


def test_logout_all_sends_token_revoked_per_session_and_for_user(
    api_client: APIClient,
    user: Any,
    received: Callable[[Signal], list[dict[str, Any]]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    first = login(api_client)
    second = login(api_client)
    revoked = received(signals.token_revoked)

    with django_capture_on_commit_callbacks(execute=True):
        api_client.post(LOGOUT_URL, {"all": True}, format="json", **bearer(first["access"]))

    units = sorted((call["unit"], call["identifier"]) for call in revoked)
    assert units == sorted(
        [
            ("session", claims(first["access"]).sid),
            ("session", claims(second["access"]).sid),
            ("user", str(user.pk)),
        ]
    )
    for call in revoked:
        assert call["reason"] == RevokeReason.LOGOUT_ALL
        assert call["user_id"] == user.pk


# --- ATOMIC_REQUESTS ----------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_refresh_reuse_with_atomic_requests_keeps_revocation(
    api_client: APIClient, settings: Any, monkeypatch: pytest.MonkeyPatch, frozen: Any
) -> None:
    get_user_model().objects.create_user(username="alice", password=PASSWORD)
    monkeypatch.setitem(settings.DATABASES["default"], "ATOMIC_REQUESTS", True)
    assert connections.settings["default"]["ATOMIC_REQUESTS"] is True
    pair = login(api_client)
    rotated = post_refresh(api_client, pair["refresh"]).json()
    assert whoami(api_client, rotated["access"]).status_code == 200  # cached as active
    frozen.shift(31)

    assert_unauthorized(post_refresh(api_client, pair["refresh"]), "token_reused")

    assert Session.objects.get().revoked_at is not None
    assert_unauthorized(post_refresh(api_client, rotated["refresh"]), "token_revoked")
    assert_unauthorized(whoami(api_client, rotated["access"]), "token_revoked")
