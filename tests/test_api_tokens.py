"""API tokens: creation, authentication, expiry, rotation, revocation, scopes, use."""

from __future__ import annotations

from datetime import timedelta
from datetime import timezone as dt_timezone
from typing import Any

import pytest
from django.core import mail
from django.core.cache import caches
from django.utils import timezone
from rest_framework.test import APIClient

from django_tokenkit import api_token_format, api_token_store, signals
from django_tokenkit.models import APIToken, APITokenExpiryWarning, PendingRevocation
from django_tokenkit.services import api_tokens as api_token_services
from django_tokenkit.services.api_tokens import (
    APITokenLimitReached,
    APITokenNotRotatable,
    InvalidAPITokenRequest,
)
from tests.helpers import login

DAY = timedelta(days=1)


def get(client: APIClient, token: str, path: str = "/api/whoami/", scheme: str = "Bearer") -> Any:
    return client.get(path, HTTP_AUTHORIZATION=f"{scheme} {token}")


@pytest.fixture
def clock(time_machine: Any) -> Any:
    """Time frozen at the test's start, moved by ``clock.shift``."""
    time_machine.move_to(timezone.now(), tick=False)
    return time_machine


@pytest.fixture
def issued(user: Any) -> api_token_services.IssuedAPIToken:
    return api_token_services.create(user, name="nightly job", expires_in=30 * DAY)


# --- creation ----------------------------------------------------------------------


def test_create_stores_only_the_digest_and_hint(user: Any) -> None:
    issued = api_token_services.create(user, name="ci", expires_in=DAY, scopes=["notes:read"])

    assert api_token_format.is_well_formed(issued.token)
    row = APIToken.objects.get()
    assert row.digest == api_token_format.digest(issued.token)
    assert row.hint == "tkp_" + issued.token[-4:]
    assert issued.token not in {str(value) for value in vars(row).values()}
    assert row.scopes == ["notes:read"]
    assert row.expires_at is not None


def test_create_never_expiring_token_has_no_expiry(user: Any) -> None:
    issued = api_token_services.create(user, name="forever", expires_in=None)
    assert issued.record.expires_at is None
    assert issued.record.never_expires


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "", "expires_in": DAY}, "name"),
        ({"name": "x" * 101, "expires_in": DAY}, "name"),
        ({"name": "a\x00b", "expires_in": DAY}, "name"),
        ({"name": 5, "expires_in": DAY}, "name"),
        ({"name": "ok", "expires_in": timedelta(0)}, "expires_in"),
        ({"name": "ok", "expires_in": -DAY}, "expires_in"),
        ({"name": "ok", "expires_in": timedelta(days=10_000)}, "expires_in"),
        ({"name": "ok", "expires_in": DAY, "scopes": ["admin"]}, "scope"),
        ({"name": "ok", "expires_in": DAY, "scopes": [3]}, "scope"),
    ],
)
def test_create_bad_input_is_refused_and_creates_nothing(
    user: Any, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidAPITokenRequest, match=message):
        api_token_services.create(user, **kwargs)
    assert not APIToken.objects.exists()


def test_create_never_with_a_maximum_lifetime_is_refused(user: Any, settings: Any) -> None:
    settings.TOKENKIT = {**settings.TOKENKIT, "API_TOKEN_MAX_LIFETIME": 90 * 86400}
    with pytest.raises(InvalidAPITokenRequest, match="never expire"):
        api_token_services.create(user, name="forever", expires_in=None)
    with pytest.raises(InvalidAPITokenRequest, match="at most"):
        api_token_services.create(user, name="long", expires_in=91 * DAY)
    assert api_token_services.create(user, name="ok", expires_in=90 * DAY).record.pk


def test_create_over_the_per_user_limit_is_refused(user: Any, settings: Any) -> None:
    settings.TOKENKIT = {**settings.TOKENKIT, "API_TOKEN_LIMIT_PER_USER": 2}
    first = api_token_services.create(user, name="a", expires_in=DAY)
    api_token_services.create(user, name="b", expires_in=DAY)
    with pytest.raises(APITokenLimitReached):
        api_token_services.create(user, name="c", expires_in=DAY)
    api_token_services.revoke([first.record], "user_request")
    assert api_token_services.create(user, name="c", expires_in=DAY).record.name == "c"


def test_create_sends_api_token_created_without_the_secret(user: Any) -> None:
    received: list[dict[str, Any]] = []

    def receiver(**kwargs: Any) -> None:
        received.append(kwargs)

    signals.api_token_created.connect(receiver)
    try:
        issued = api_token_services.create(user, name="ci", expires_in=DAY)
    finally:
        signals.api_token_created.disconnect(receiver)
    assert [r["token"] for r in received] == [issued.record]
    assert issued.token not in repr(received)


# --- authentication ------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["Bearer", "Token", "bearer"])
def test_authentication_accepts_bearer_and_token_schemes(
    api_client: APIClient, issued: Any, scheme: str
) -> None:
    response = get(api_client, issued.token, scheme=scheme)
    assert response.status_code == 200, response.content
    assert response.json()["username"] == "alice"


def test_authentication_request_auth_is_a_credential_without_the_secret(
    api_client: APIClient, issued: Any
) -> None:
    response = get(api_client, issued.token)
    auth = response.wsgi_request.auth
    assert isinstance(auth, api_token_store.APITokenCredential)
    assert (auth.id, auth.name, auth.scopes) == (str(issued.record.pk), "nightly job", ())
    assert issued.token not in repr(auth)


def test_authentication_bad_checksum_is_refused_before_any_cache_or_database_access(
    api_client: APIClient,
    issued: Any,
    settings: Any,
    django_assert_num_queries: Any,
) -> None:
    settings.CACHES = {**settings.CACHES, "untouchable": {"BACKEND": "tests.caches.ExplodingCache"}}
    settings.TOKENKIT = {**settings.TOKENKIT, "CACHE_ALIAS": "untouchable"}
    forged = issued.token[:-1] + ("0" if issued.token[-1] != "0" else "1")

    with django_assert_num_queries(0):
        response = get(api_client, forged)

    assert response.status_code == 401
    assert response.json()["code"] == "token_invalid"


def test_authentication_steady_state_makes_no_query_and_one_round_trip(
    api_client: APIClient, issued: Any, django_assert_num_queries: Any, monkeypatch: Any
) -> None:
    assert get(api_client, issued.token).status_code == 200  # warm: state, owner, user copy
    calls: list[list[str]] = []
    cache = caches["default"]
    original = cache.get_many

    def counting(keys: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(list(keys))
        return original(keys, *args, **kwargs)

    monkeypatch.setattr(cache, "get_many", counting)
    with django_assert_num_queries(0):
        assert get(api_client, issued.token).status_code == 200
    assert len(calls) == 1


def test_authentication_unknown_well_formed_token_is_invalid(
    api_client: APIClient, user: Any
) -> None:
    response = get(api_client, api_token_format.generate())
    assert response.status_code == 401
    assert response.json()["code"] == "token_invalid"


def test_authentication_expired_token_is_token_expired_naming_the_time(
    api_client: APIClient, user: Any, clock: Any
) -> None:
    issued = api_token_services.create(user, name="short", expires_in=timedelta(hours=3))
    assert get(api_client, issued.token).status_code == 200
    clock.shift(timedelta(hours=3, seconds=1))

    response = get(api_client, issued.token)

    assert response.status_code == 401
    assert response.json()["code"] == "token_expired"
    assert issued.record.expires_at is not None
    assert issued.record.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ") in response.json()["detail"]


def test_authentication_revoked_token_is_refused_on_the_next_request(
    api_client: APIClient, issued: Any, django_capture_on_commit_callbacks: Any
) -> None:
    assert get(api_client, issued.token).status_code == 200  # cached as live
    with django_capture_on_commit_callbacks(execute=True):
        assert api_token_services.revoke([issued.record], "admin") == 1

    response = get(api_client, issued.token)

    assert response.status_code == 401
    assert response.json()["code"] == "token_revoked"
    assert not PendingRevocation.objects.exists()


def test_authentication_revocation_survives_losing_the_cache(
    api_client: APIClient, issued: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        api_token_services.revoke([issued.record], "admin")
    caches["default"].clear()
    assert get(api_client, issued.token).json()["code"] == "token_revoked"


def test_authentication_revocation_whose_publish_never_ran_is_refused_from_the_outbox(
    api_client: APIClient, issued: Any, django_capture_on_commit_callbacks: Any, settings: Any
) -> None:
    assert get(api_client, issued.token).status_code == 200  # cached as live
    with django_capture_on_commit_callbacks(execute=False):  # died before publishing
        api_token_services.revoke([issued.record], "admin")
    from django_tokenkit import outbox

    outbox.forget()  # the next check reads the outbox

    assert get(api_client, issued.token).json()["code"] == "token_revoked"


def test_authentication_inactive_owner_is_refused(
    api_client: APIClient, issued: Any, user: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        user.is_active = False
        user.save()
    assert get(api_client, issued.token).json()["code"] == "token_revoked"
    issued.record.refresh_from_db()
    assert issued.record.revoked_at is not None  # deactivation ends API tokens too


def test_logout_all_leaves_api_tokens_working(
    api_client: APIClient, issued: Any, user: Any
) -> None:
    pair = login(api_client)
    response = api_client.post(
        "/api/auth/logout/",
        {"all": True},
        format="json",
        HTTP_AUTHORIZATION=f"Bearer {pair['access']}",
    )
    assert response.status_code == 204
    assert get(api_client, issued.token).status_code == 200


def test_password_change_leaves_api_tokens_working_by_default(
    api_client: APIClient, issued: Any, user: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        user.set_password("a whole new password")
        user.save()
    assert get(api_client, issued.token).status_code == 200


def test_password_change_revokes_api_tokens_when_configured(
    api_client: APIClient,
    issued: Any,
    user: Any,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.TOKENKIT = {**settings.TOKENKIT, "API_TOKEN_REVOKE_ON_PASSWORD_CHANGE": True}
    with django_capture_on_commit_callbacks(execute=True):
        user.set_password("a whole new password")
        user.save()
    assert get(api_client, issued.token).json()["code"] == "token_revoked"


def test_deleted_owner_token_is_refused(api_client: APIClient, issued: Any, user: Any) -> None:
    assert get(api_client, issued.token).status_code == 200
    user.delete()
    assert get(api_client, issued.token).status_code == 401


def test_jwt_authentication_leaves_api_tokens_alone(api_client: APIClient, issued: Any) -> None:
    from django_tokenkit.authentication import JWTAuthentication

    request = get(api_client, issued.token).wsgi_request
    assert JWTAuthentication().authenticate(request) is None


# --- the expiry header -------------------------------------------------------------


def test_expiring_token_response_carries_expires_at_header_exposed_to_cors(
    api_client: APIClient, issued: Any
) -> None:
    response = get(api_client, issued.token)
    expected = issued.record.expires_at.astimezone(dt_timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert response["X-API-Token-Expires-At"] == expected
    assert "X-API-Token-Expires-At" in response["Access-Control-Expose-Headers"]


def test_expiry_header_is_on_failed_responses_too(api_client: APIClient, user: Any) -> None:
    issued = api_token_services.create(
        user, name="read only", expires_in=DAY, scopes=["notes:read"]
    )
    response = api_client.post("/api/scoped/", HTTP_AUTHORIZATION=f"Bearer {issued.token}")
    assert response.status_code == 403
    assert "X-API-Token-Expires-At" in response


def test_never_expiring_token_and_session_tokens_get_no_expiry_header(
    api_client: APIClient, user: Any
) -> None:
    issued = api_token_services.create(user, name="forever", expires_in=None)
    assert "X-API-Token-Expires-At" not in get(api_client, issued.token)
    pair = login(api_client)
    assert "X-API-Token-Expires-At" not in get(api_client, pair["access"])


# --- scopes -----------------------------------------------------------------------------


def test_scopes_token_without_the_scope_is_403_insufficient_scope_with_challenge(
    api_client: APIClient, user: Any
) -> None:
    issued = api_token_services.create(user, name="reader", expires_in=DAY, scopes=["notes:read"])
    assert get(api_client, issued.token, "/api/scoped/").status_code == 200

    response = api_client.post("/api/scoped/", HTTP_AUTHORIZATION=f"Bearer {issued.token}")

    assert response.status_code == 403
    assert response.json()["code"] == "insufficient_scope"
    challenge = response["WWW-Authenticate"]
    assert challenge.startswith('Bearer realm="api", error="insufficient_scope"')
    assert 'scope="notes:write"' in challenge


def test_scopes_token_without_scopes_and_session_tokens_pass(
    api_client: APIClient, user: Any
) -> None:
    issued = api_token_services.create(user, name="full", expires_in=DAY)
    assert (
        api_client.post("/api/scoped/", HTTP_AUTHORIZATION=f"Bearer {issued.token}").status_code
        == 201
    )
    pair = login(api_client)
    assert (
        api_client.post("/api/scoped/", HTTP_AUTHORIZATION=f"Bearer {pair['access']}").status_code
        == 201
    )


# --- rotation -----------------------------------------------------------------------------


def test_rotate_issues_same_name_and_scopes_and_old_works_through_the_grace(
    api_client: APIClient,
    user: Any,
    clock: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    old = api_token_services.create(user, name="job", expires_in=30 * DAY, scopes=["notes:read"])
    assert get(api_client, old.token).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        new = api_token_services.rotate(old.record, grace=timedelta(hours=1))

    assert (new.record.name, new.record.scopes) == ("job", ["notes:read"])
    assert new.record.rotated_from == old.record
    assert new.record.expires_at is not None
    assert new.record.expires_at - new.record.created_at == timedelta(days=30)
    assert get(api_client, old.token).status_code == 200  # within the grace
    assert get(api_client, new.token).status_code == 200
    clock.shift(timedelta(hours=1, seconds=1))
    response = get(api_client, old.token)
    assert response.json()["code"] == "token_expired"
    assert "rotation" in response.json()["detail"]
    assert get(api_client, new.token).status_code == 200


def test_rotate_without_grace_ends_the_old_token_at_once(
    api_client: APIClient, issued: Any, django_capture_on_commit_callbacks: Any
) -> None:
    assert get(api_client, issued.token).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        api_token_services.rotate(issued.record)
    assert get(api_client, issued.token).json()["code"] == "token_expired"


def test_rotate_twice_or_after_revocation_is_refused(issued: Any, user: Any) -> None:
    api_token_services.rotate(issued.record)
    with pytest.raises(APITokenNotRotatable):
        api_token_services.rotate(issued.record)
    other = api_token_services.create(user, name="other", expires_in=DAY)
    api_token_services.revoke([other.record], "admin")
    with pytest.raises(APITokenNotRotatable):
        api_token_services.rotate(other.record)


@pytest.mark.parametrize("grace", [timedelta(seconds=-1), timedelta(days=1, seconds=1)])
def test_rotate_grace_out_of_range_is_refused(issued: Any, grace: timedelta) -> None:
    with pytest.raises(InvalidAPITokenRequest):
        api_token_services.rotate(issued.record, grace=grace)


def test_rotate_never_expiring_token_stays_never_expiring(user: Any) -> None:
    old = api_token_services.create(user, name="forever", expires_in=None)
    new = api_token_services.rotate(old.record, grace=timedelta(minutes=5))
    assert new.record.expires_at is None
    old.record.refresh_from_db()
    assert old.record.expires_at is not None


# --- last use -----------------------------------------------------------------------------


def test_last_used_is_written_once_per_interval_with_the_signal(
    api_client: APIClient, issued: Any, clock: Any, monkeypatch: Any
) -> None:
    used: list[Any] = []

    def receiver(**kwargs: Any) -> None:
        used.append(kwargs["token"])

    signals.api_token_used.connect(receiver)
    try:
        for _ in range(3):
            assert get(api_client, issued.token).status_code == 200
        issued.record.refresh_from_db()
        first = issued.record.last_used_at
        assert first is not None
        assert issued.record.last_used_ip == "127.0.0.1"
        assert len(used) == 1
        # Another process (its own memory) within the interval: the UPDATE's condition stops it.
        api_token_services.forget_uses()
        assert get(api_client, issued.token).status_code == 200
        assert len(used) == 1
        clock.shift(timedelta(seconds=61))
        monkeypatch.setattr("django_tokenkit.services.api_tokens.time.monotonic", lambda: 10.0**9)
        assert get(api_client, issued.token).status_code == 200
        assert len(used) == 2
    finally:
        signals.api_token_used.disconnect(receiver)


# --- expiry warnings ------------------------------------------------------------------------


def test_expiry_warnings_are_sent_once_per_threshold(user: Any, clock: Any) -> None:
    issued = api_token_services.create(user, name="job", expires_in=10 * DAY)
    assert api_token_services.send_expiry_warnings() == []

    clock.shift(3 * DAY + timedelta(minutes=1))  # 7 days left
    sent = api_token_services.send_expiry_warnings()
    assert [(w.token, w.threshold) for w in sent] == [(issued.record, 7 * DAY)]
    assert api_token_services.send_expiry_warnings() == []  # once
    assert len(mail.outbox) == 1
    assert "job" in mail.outbox[0].subject
    assert issued.token not in mail.outbox[0].body

    clock.shift(6 * DAY)  # 1 day left
    assert [w.threshold for w in api_token_services.send_expiry_warnings()] == [DAY]
    assert len(mail.outbox) == 2


def test_expiry_warnings_for_a_short_token_send_only_the_nearest_threshold(user: Any) -> None:
    api_token_services.create(user, name="short", expires_in=timedelta(hours=12))

    sent = api_token_services.send_expiry_warnings()

    assert [w.threshold for w in sent] == [DAY]
    assert set(APITokenExpiryWarning.objects.values_list("threshold", flat=True)) == {DAY, 7 * DAY}
    assert api_token_services.send_expiry_warnings() == []
