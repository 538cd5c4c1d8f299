"""``api-tokens/``: list, create, revoke and rotate one's own API tokens (SPEC section 5)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework.test import APIClient

from django_tokenkit import api_token_format
from django_tokenkit.models import APIToken, RevokeReason
from django_tokenkit.services import api_tokens as api_token_services
from tests.helpers import assert_unauthorized, bearer

URL = "/api/auth/api-tokens/"
DAY = 86400
CREATED_FIELDS = {"id", "name", "token", "hint", "scopes", "created", "expires_at", "last_used_at"}


def create(client: APIClient, access: str, **body: Any) -> Any:
    return client.post(
        URL, {"name": "nightly", "expires_in": DAY, **body}, format="json", **bearer(access)
    )


def whoami(client: APIClient, token: str) -> Any:
    return client.get("/api/whoami/", **bearer(token))


def assert_no_store(response: Any) -> None:
    assert response["Cache-Control"] == "no-store"


@pytest.fixture
def access(pair: dict[str, Any]) -> str:
    return str(pair["access"])


# --- create ---------------------------------------------------------------------------


def test_api_tokens_create_returns_the_token_once_and_it_authenticates(
    api_client: APIClient, access: str
) -> None:
    before = timezone.now()
    response = create(api_client, access, scopes=["notes:read"])

    assert response.status_code == 201, response.content
    assert_no_store(response)
    body = response.json()
    assert set(body) == CREATED_FIELDS
    assert api_token_format.is_well_formed(body["token"])
    assert body["hint"] == "tkp_" + body["token"][-4:]
    assert body["name"] == "nightly"
    assert body["scopes"] == ["notes:read"]
    assert body["last_used_at"] is None
    expires_at = parse_datetime(body["expires_at"])
    assert expires_at is not None
    assert timedelta(seconds=DAY - 5) <= expires_at - before <= timedelta(seconds=DAY + 5)
    assert APIToken.objects.get(pk=body["id"]).digest == api_token_format.digest(body["token"])
    assert whoami(api_client, body["token"]).json()["username"] == "alice"


def test_api_tokens_create_with_null_expires_in_never_expires(
    api_client: APIClient, access: str
) -> None:
    response = create(api_client, access, expires_in=None)

    assert response.status_code == 201, response.content
    assert response.json()["expires_at"] is None
    assert APIToken.objects.get().never_expires


def test_api_tokens_create_never_under_a_maximum_lifetime_is_400(
    api_client: APIClient, access: str, settings: Any
) -> None:
    settings.TOKENKIT = {**settings.TOKENKIT, "API_TOKEN_MAX_LIFETIME": 90 * DAY}

    never = create(api_client, access, expires_in=None)
    too_long = create(api_client, access, expires_in=91 * DAY)

    assert never.status_code == 400
    assert never.json()["code"] == "invalid"
    assert too_long.status_code == 400
    assert too_long.json()["code"] == "invalid"
    assert not APIToken.objects.exists()
    assert create(api_client, access, expires_in=90 * DAY).status_code == 201


def test_api_tokens_create_without_expires_in_is_400_required(
    api_client: APIClient, access: str
) -> None:
    response = api_client.post(URL, {"name": "nightly"}, format="json", **bearer(access))

    assert response.status_code == 400
    assert response.json()["expires_in"][0] == "This field is required."
    assert not APIToken.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": 5}, "name"),
        ({"name": None}, "name"),
        ({"name": ""}, "name"),
        ({"name": "x" * 10_240}, "name"),
        ({"name": ["a"]}, "name"),
        ({"expires_in": "86400"}, "expires_in"),
        ({"expires_in": 86400.5}, "expires_in"),
        ({"expires_in": True}, "expires_in"),
        ({"expires_in": 0}, "expires_in"),
        ({"expires_in": -DAY}, "expires_in"),
        ({"expires_in": 10**30}, "expires_in"),
        ({"expires_in": -(10**300)}, "expires_in"),
        ({"expires_in": {"days": 1}}, "expires_in"),
        ({"scopes": "notes:read"}, "scopes"),
        ({"scopes": {"notes:read": True}}, "scopes"),
        ({"scopes": [1]}, "scopes"),
        ({"scopes": [["notes:read"]]}, "scopes"),
        ({"scopes": ["notes:read"] * 65}, "scopes"),
        ({"scopes": ["admin"]}, "detail"),
        ({"scopes": ["notes:read", "x" * 201]}, "scopes"),
    ],
)
def test_api_tokens_create_bad_input_is_400_and_creates_nothing(
    api_client: APIClient, access: str, body: dict[str, Any], field: str
) -> None:
    response = create(api_client, access, **body)

    assert response.status_code == 400, response.content
    data = response.json()
    assert field in data
    if field == "detail":
        assert data["code"] == "invalid"
    assert not APIToken.objects.exists()


@pytest.mark.parametrize(
    ("raw", "content_type"),
    [
        ("[1, 2]", "application/json"),
        ('"name"', "application/json"),
        ("null", "application/json"),
        ("{bad json", "application/json"),
        ("[" * 5000 + "]" * 5000, "application/json"),
        ('{"name": "a", "expires_in": 1e999}', "application/json"),
        ("\xff\xfe", "application/json"),
    ],
    ids=["list", "string", "null", "malformed", "deeply-nested", "infinite", "not-utf8"],
)
def test_api_tokens_create_unreadable_body_is_400_never_500(
    api_client: APIClient, access: str, raw: str, content_type: str
) -> None:
    response = api_client.generic(
        "POST",
        URL,
        raw.encode("latin-1"),  # type: ignore[arg-type]  # Django sends bytes as they are
        content_type=content_type,
        **bearer(access),
    )

    assert response.status_code == 400, response.content
    assert not APIToken.objects.exists()


def test_api_tokens_create_over_the_limit_is_409_api_token_limit(
    api_client: APIClient, access: str, settings: Any
) -> None:
    settings.TOKENKIT = {**settings.TOKENKIT, "API_TOKEN_LIMIT_PER_USER": 2}
    assert create(api_client, access).status_code == 201
    assert create(api_client, access).status_code == 201

    response = create(api_client, access)

    assert response.status_code == 409
    assert response.json()["code"] == "api_token_limit"
    assert set(response.json()) == {"detail", "code"}
    assert APIToken.objects.count() == 2


# --- who may use the endpoints -----------------------------------------------------------


def test_api_tokens_without_credentials_are_401_not_authenticated(
    api_client: APIClient, db: Any
) -> None:
    response = api_client.get(URL)
    assert_unauthorized(response, "not_authenticated", token_presented=False)


@pytest.mark.parametrize("method", ["list", "create", "delete", "rotate"])
def test_api_tokens_managed_with_an_api_token_are_403_api_token_not_allowed(
    api_client: APIClient, user: Any, method: str
) -> None:
    issued = api_token_services.create(user, name="script", expires_in=timedelta(days=1))
    headers = bearer(issued.token)
    detail = f"{URL}{issued.record.pk}/"
    requests = {
        "list": lambda: api_client.get(URL, **headers),
        "create": lambda: api_client.post(
            URL, {"name": "child", "expires_in": DAY}, format="json", **headers
        ),
        "delete": lambda: api_client.delete(detail, **headers),
        "rotate": lambda: api_client.post(f"{detail}rotate/", {}, format="json", **headers),
    }

    response = requests[method]()

    assert response.status_code == 403, response.content
    assert response.json()["code"] == "api_token_not_allowed"
    assert list(APIToken.objects.values_list("pk", "revoked_at", "rotated_at")) == [
        (issued.record.pk, None, None)
    ]


def test_api_tokens_with_a_revoked_session_token_are_401_token_revoked(
    api_client: APIClient, pair: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        api_client.post("/api/auth/logout/", {"refresh": pair["refresh"]}, format="json")

    response = api_client.get(URL, **bearer(pair["access"]))

    assert_unauthorized(response, "token_revoked")


# --- list -----------------------------------------------------------------------------------


def test_api_tokens_list_shows_own_live_tokens_newest_first_without_secrets(
    api_client: APIClient, access: str, user: Any, other_user: Any, time_machine: Any
) -> None:
    time_machine.move_to(timezone.now(), tick=False)
    first = api_token_services.create(user, name="first", expires_in=timedelta(days=1))
    time_machine.shift(timedelta(seconds=1))
    second = api_token_services.create(user, name="second", expires_in=None, scopes=["notes:read"])
    time_machine.shift(timedelta(seconds=1))
    revoked = api_token_services.create(user, name="revoked", expires_in=timedelta(days=1))
    api_token_services.revoke([revoked.record], RevokeReason.USER_REQUEST)
    api_token_services.create(user, name="expired", expires_in=timedelta(seconds=1))
    api_token_services.create(other_user, name="bob's", expires_in=timedelta(days=1))
    time_machine.shift(timedelta(seconds=2))

    response = api_client.get(URL, **bearer(access))

    assert response.status_code == 200
    assert_no_store(response)
    body = response.json()
    assert body["count"] == 2
    assert [row["name"] for row in body["results"]] == ["second", "first"]
    assert [row["id"] for row in body["results"]] == [str(second.record.pk), str(first.record.pk)]
    assert set(body["results"][0]) == CREATED_FIELDS - {"token"}
    assert body["results"][0]["scopes"] == ["notes:read"]
    assert body["results"][0]["expires_at"] is None
    assert first.token not in response.content.decode()


def test_api_tokens_list_is_paginated(api_client: APIClient, access: str, user: Any) -> None:
    for index in range(30):
        api_token_services.create(user, name=f"job {index}", expires_in=timedelta(days=1))

    first_page = api_client.get(URL, **bearer(access)).json()
    small_page = api_client.get(f"{URL}?page_size=10&page=3", **bearer(access)).json()
    capped = api_client.get(f"{URL}?page_size=100000", **bearer(access)).json()

    assert first_page["count"] == 30
    assert len(first_page["results"]) == 25
    assert first_page["next"].endswith("?page=2")
    assert first_page["previous"] is None
    assert len(small_page["results"]) == 10
    assert small_page["next"] is None
    assert len(capped["results"]) == 30


@pytest.mark.parametrize("query", ["page=2", "page=abc", "page=-1", "page=" + "9" * 400])
def test_api_tokens_list_bad_page_is_404_never_500(
    api_client: APIClient, access: str, query: str
) -> None:
    response = api_client.get(f"{URL}?{query}", **bearer(access))

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


# --- revoke -------------------------------------------------------------------------------


def test_api_tokens_delete_revokes_at_once(
    api_client: APIClient, access: str, user: Any, django_capture_on_commit_callbacks: Any
) -> None:
    issued = api_token_services.create(user, name="job", expires_in=timedelta(days=1))
    assert whoami(api_client, issued.token).status_code == 200  # its state now cached

    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.delete(f"{URL}{issued.record.pk}/", **bearer(access))

    assert response.status_code == 204
    assert_unauthorized(whoami(api_client, issued.token), "token_revoked")
    record = APIToken.objects.get()
    assert record.revoke_reason == RevokeReason.USER_REQUEST
    again = api_client.delete(f"{URL}{issued.record.pk}/", **bearer(access))
    assert again.status_code == 204


def test_api_tokens_delete_another_users_token_is_404_and_changes_nothing(
    api_client: APIClient, access: str, other_user: Any
) -> None:
    theirs = api_token_services.create(other_user, name="bob's", expires_in=timedelta(days=1))

    delete = api_client.delete(f"{URL}{theirs.record.pk}/", **bearer(access))
    rotate = api_client.post(
        f"{URL}{theirs.record.pk}/rotate/", {}, format="json", **bearer(access)
    )

    for response in (delete, rotate):
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"
    assert list(APIToken.objects.values_list("revoked_at", "rotated_at")) == [(None, None)]
    assert whoami(api_client, theirs.token).status_code == 200


@pytest.mark.parametrize(
    "token_id",
    [
        str(uuid.uuid4()),
        "abc",
        "1",
        "' OR 1=1 --",
        "x" * 2000,
        "%00",
        "%F0%9F%92%A5",
        "12345678-1234-5678-1234-56781234567g",
    ],
    ids=["unknown", "word", "number", "sql", "long", "nul", "emoji", "almost-uuid"],
)
@pytest.mark.parametrize("action", ["delete", "rotate"])
def test_api_tokens_unknown_or_malformed_id_is_404_never_500(
    api_client: APIClient, access: str, token_id: str, action: str
) -> None:
    if action == "delete":
        response = api_client.delete(f"{URL}{token_id}/", **bearer(access))
    else:
        response = api_client.post(f"{URL}{token_id}/rotate/", {}, format="json", **bearer(access))

    assert response.status_code == 404, response.content
    assert response.json()["code"] == "not_found"


# --- rotate -------------------------------------------------------------------------------


def test_api_tokens_rotate_issues_a_successor_and_the_old_works_through_the_grace(
    api_client: APIClient,
    access: str,
    user: Any,
    time_machine: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    time_machine.move_to(timezone.now(), tick=False)
    old = api_token_services.create(
        user, name="deploy", expires_in=timedelta(days=30), scopes=["notes:write"]
    )

    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(
            f"{URL}{old.record.pk}/rotate/", {"grace_seconds": 600}, format="json", **bearer(access)
        )

    assert response.status_code == 201, response.content
    assert_no_store(response)
    new = response.json()
    assert set(new) == CREATED_FIELDS
    assert new["id"] != str(old.record.pk)
    assert (new["name"], new["scopes"]) == ("deploy", ["notes:write"])
    expires_at = parse_datetime(new["expires_at"])
    assert expires_at == timezone.now() + timedelta(days=30)  # the old token's lifetime
    assert whoami(api_client, old.token).status_code == 200
    assert whoami(api_client, new["token"]).status_code == 200
    time_machine.shift(timedelta(seconds=601))
    assert_unauthorized(whoami(api_client, old.token), "token_expired")
    assert whoami(api_client, new["token"]).status_code == 200


def test_api_tokens_rotate_by_default_ends_the_old_token_at_once(
    api_client: APIClient, access: str, user: Any, django_capture_on_commit_callbacks: Any
) -> None:
    old = api_token_services.create(user, name="deploy", expires_in=timedelta(days=1))

    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(f"{URL}{old.record.pk}/rotate/", **bearer(access))

    assert response.status_code == 201, response.content
    assert_unauthorized(whoami(api_client, old.token), "token_expired")


@pytest.mark.parametrize(
    ("expires_in", "never"), [(None, True), (3600, False)], ids=["never", "one-hour"]
)
def test_api_tokens_rotate_with_expires_in_sets_the_new_lifetime(
    api_client: APIClient, access: str, user: Any, expires_in: int | None, never: bool
) -> None:
    old = api_token_services.create(user, name="deploy", expires_in=timedelta(days=30))

    response = api_client.post(
        f"{URL}{old.record.pk}/rotate/", {"expires_in": expires_in}, format="json", **bearer(access)
    )

    assert response.status_code == 201, response.content
    assert (response.json()["expires_at"] is None) is never


def test_api_tokens_rotate_revoked_or_rotated_away_token_is_404(
    api_client: APIClient, access: str, user: Any
) -> None:
    revoked = api_token_services.create(user, name="a", expires_in=timedelta(days=1))
    api_token_services.revoke([revoked.record], RevokeReason.USER_REQUEST)
    rotated = api_token_services.create(user, name="b", expires_in=timedelta(days=1))
    first = api_client.post(f"{URL}{rotated.record.pk}/rotate/", **bearer(access))
    assert first.status_code == 201

    for record in (revoked.record, rotated.record):
        response = api_client.post(f"{URL}{record.pk}/rotate/", **bearer(access))
        assert response.status_code == 404, response.content
        assert response.json()["code"] == "not_found"
    assert APIToken.objects.count() == 3


@pytest.mark.parametrize(
    "body",
    [
        {"grace_seconds": -1},
        {"grace_seconds": 86401},
        {"grace_seconds": "60"},
        {"grace_seconds": True},
        {"grace_seconds": 1.5},
        {"grace_seconds": None},
        {"grace_seconds": 10**400},
        {"expires_in": 0},
        {"expires_in": -5},
        {"expires_in": False},
        {"expires_in": "never"},
        {"expires_in": 10**30},
    ],
)
def test_api_tokens_rotate_bad_input_is_400_and_rotates_nothing(
    api_client: APIClient, access: str, user: Any, body: dict[str, Any]
) -> None:
    old = api_token_services.create(user, name="deploy", expires_in=timedelta(days=1))

    response = api_client.post(
        f"{URL}{old.record.pk}/rotate/", body, format="json", **bearer(access)
    )

    assert response.status_code == 400, response.content
    assert set(response.json()) <= {"grace_seconds", "expires_in"}
    assert APIToken.objects.get().rotated_at is None


def test_api_tokens_rotate_to_never_under_a_maximum_lifetime_is_400(
    api_client: APIClient, access: str, user: Any, settings: Any
) -> None:
    old = api_token_services.create(user, name="deploy", expires_in=None)
    settings.TOKENKIT = {**settings.TOKENKIT, "API_TOKEN_MAX_LIFETIME": 90 * DAY}

    response = api_client.post(f"{URL}{old.record.pk}/rotate/", **bearer(access))

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert APIToken.objects.get().rotated_at is None
