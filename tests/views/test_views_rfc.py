"""RFC 7009 ``revoke/`` and RFC 7662 ``introspect/`` (SPEC section 5)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import jwt
import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.cache import caches
from rest_framework.test import APIClient

from django_tokenkit import api_token_format, tokens
from django_tokenkit.models import APIToken, RevokeReason, Session
from django_tokenkit.services import api_tokens as api_token_services
from tests.helpers import PASSWORD, assert_unauthorized, bearer, login, whoami

REVOKE_URL = "/api/auth/revoke/"
INTROSPECT_URL = "/api/auth/introspect/"
REFRESH_URL = "/api/auth/token/refresh/"
FORM = "application/x-www-form-urlencoded"
DAY = timedelta(days=1)
SCOPES = {"notes:read": "Read notes", "introspection": "Introspect tokens"}


def revoke(client: APIClient, token: Any, **form: Any) -> Any:
    """POST revoke/ form-encoded, as RFC 7009 clients send it."""
    return client.post(REVOKE_URL, urlencode({"token": token, **form}), content_type=FORM)


def introspect(client: APIClient, caller: str, token: Any, **form: Any) -> Any:
    """POST introspect/ form-encoded with ``caller`` as the bearer token."""
    body = urlencode({"token": token, **form})
    return client.post(INTROSPECT_URL, body, content_type=FORM, **bearer(caller))


def grant_introspection(user: Any) -> None:
    user.user_permissions.add(
        Permission.objects.get(codename="introspect_token", content_type__app_label="tokenkit")
    )


@pytest.fixture
def commit(django_capture_on_commit_callbacks: Any) -> Any:
    """Run the on-commit publication of revocations (the test is one transaction)."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def tokenkit(settings: Any) -> Any:
    def configure(**overrides: Any) -> None:
        settings.TOKENKIT = {**settings.TOKENKIT, **overrides}

    return configure


@pytest.fixture
def inspector(db: Any) -> dict[str, Any]:
    """A login pair of a user holding ``tokenkit.introspect_token``."""
    model = get_user_model()
    grant_introspection(model.objects.create_user(username="carol", password=PASSWORD))
    return login(APIClient(), "carol")


def forge(claims: dict[str, Any], typ: str) -> str:
    return jwt.encode(claims, django_settings.SECRET_KEY, algorithm="HS256", headers={"typ": typ})


# --- revoke/ -------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["access", "refresh"])
def test_revoke_session_token_ends_its_session(
    api_client: APIClient, pair: dict[str, Any], commit: Any, which: str
) -> None:
    with commit():
        response = revoke(api_client, pair[which])

    assert response.status_code == 200
    assert response.content == b""
    assert Session.objects.get().revoke_reason == RevokeReason.LOGOUT
    assert_unauthorized(whoami(api_client, pair), "token_revoked")
    refreshed = api_client.post(REFRESH_URL, {"refresh": pair["refresh"]}, format="json")
    assert_unauthorized(refreshed, "token_revoked")


@pytest.mark.parametrize("hint", ["access_token", "refresh_token", "api_token", "refresh", "bogus"])
def test_revoke_any_hint_still_finds_the_token(
    api_client: APIClient, pair: dict[str, Any], commit: Any, hint: str
) -> None:
    with commit():
        response = revoke(api_client, pair["refresh"], token_type_hint=hint)

    assert response.status_code == 200
    assert Session.objects.get().revoked_at is not None


def test_revoke_expired_access_token_still_ends_its_session(
    frozen: Any, api_client: APIClient, pair: dict[str, Any], commit: Any
) -> None:
    frozen.shift(timedelta(hours=2))
    with commit():
        response = revoke(api_client, pair["access"])

    assert response.status_code == 200
    assert Session.objects.get().revoked_at is not None


def test_revoke_json_body_is_accepted_too(
    api_client: APIClient, pair: dict[str, Any], commit: Any
) -> None:
    with commit():
        response = api_client.post(REVOKE_URL, {"token": pair["access"]}, format="json")

    assert response.status_code == 200
    assert Session.objects.get().revoked_at is not None


def test_revoke_api_token_revokes_only_that_token(
    api_client: APIClient, user: Any, pair: dict[str, Any], commit: Any
) -> None:
    issued = api_token_services.create(user, name="job", expires_in=DAY)
    kept = api_token_services.create(user, name="other job", expires_in=DAY)
    with commit():
        response = revoke(api_client, issued.token, token_type_hint="access_token")

    assert response.status_code == 200
    record = APIToken.objects.get(pk=issued.record.pk)
    assert record.revoked_at is not None
    assert record.revoke_reason == RevokeReason.USER_REQUEST
    assert_unauthorized(whoami(api_client, issued.token), "token_revoked")
    assert whoami(api_client, kept.token).status_code == 200
    assert whoami(api_client, pair).status_code == 200  # the user's sessions go on


def test_revoke_api_token_holds_after_the_cache_is_lost(
    api_client: APIClient, user: Any, commit: Any
) -> None:
    issued = api_token_services.create(user, name="job", expires_in=DAY)
    assert whoami(api_client, issued.token).status_code == 200  # cached as live
    with commit():
        revoke(api_client, issued.token)
    caches["default"].clear()

    assert_unauthorized(whoami(api_client, issued.token), "token_revoked")


@pytest.mark.parametrize(
    "token",
    [
        "not-a-token",
        "a.b.c",
        "tkp_" + "0" * 49,  # the prefix, a wrong checksum
        "tkp_short",
        "x" * 5000,
    ],
)
def test_revoke_unknown_or_malformed_token_returns_200_and_revokes_nothing(
    api_client: APIClient, pair: dict[str, Any], commit: Any, token: str
) -> None:
    with commit():
        response = revoke(api_client, token)

    assert response.status_code == 200
    assert Session.objects.get().revoked_at is None
    assert whoami(api_client, pair).status_code == 200


def test_revoke_unknown_well_formed_api_token_returns_200(api_client: APIClient, db: Any) -> None:
    response = revoke(api_client, api_token_format.generate())

    assert response.status_code == 200


def test_revoke_token_signed_with_another_key_revokes_nothing(
    api_client: APIClient, pair: dict[str, Any], commit: Any
) -> None:
    claims = dict(tokens.decode(pair["access"], tokens.ACCESS).claims)
    forged = jwt.encode(claims, "another-key-" * 4, algorithm="HS256", headers={"typ": "at+jwt"})
    with commit():
        response = revoke(api_client, forged)

    assert response.status_code == 200
    assert Session.objects.get().revoked_at is None


def test_revoke_twice_returns_200_both_times(
    api_client: APIClient, pair: dict[str, Any], commit: Any
) -> None:
    with commit():
        first = revoke(api_client, pair["refresh"])
    second = revoke(api_client, pair["refresh"])

    assert (first.status_code, second.status_code) == (200, 200)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("", "application/x-www-form-urlencoded"),
        ("token_type_hint=access_token", "application/x-www-form-urlencoded"),
        ('{"token": 123}', "application/json"),
        ('{"token": ["a", "b"]}', "application/json"),
        ("{not json", "application/json"),
        ("token=" + "a" * 20000, "application/x-www-form-urlencoded"),
    ],
)
def test_revoke_missing_token_or_malformed_body_returns_400(
    api_client: APIClient, db: Any, body: str, content_type: str
) -> None:
    response = api_client.post(REVOKE_URL, body, content_type=content_type)

    assert response.status_code == 400, response.content


def test_revoke_needs_no_credentials_and_ignores_a_bad_bearer_header(
    api_client: APIClient, pair: dict[str, Any], commit: Any
) -> None:
    with commit():
        response = api_client.post(
            REVOKE_URL,
            urlencode({"token": pair["access"]}),
            content_type=FORM,
            HTTP_AUTHORIZATION="Bearer garbage",
        )

    assert response.status_code == 200
    assert Session.objects.get().revoked_at is not None


def test_revoke_answer_is_not_cached(api_client: APIClient, db: Any) -> None:
    assert revoke(api_client, "x")["Cache-Control"] == "no-store"


# --- introspect/: who may ask ------------------------------------------------------------


def test_introspect_without_credentials_returns_401(api_client: APIClient, db: Any) -> None:
    response = api_client.post(INTROSPECT_URL, "token=x", content_type=FORM)

    assert_unauthorized(response, "not_authenticated", token_presented=False)


def test_introspect_with_a_bad_token_returns_401_token_invalid(
    api_client: APIClient, db: Any
) -> None:
    response = introspect(api_client, "garbage", "x")

    assert_unauthorized(response, "token_invalid")


def test_introspect_without_the_permission_returns_403(
    api_client: APIClient, pair: dict[str, Any]
) -> None:
    response = introspect(api_client, pair["access"], pair["access"])

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


def test_introspect_superuser_needs_no_explicit_permission(api_client: APIClient, db: Any) -> None:
    get_user_model().objects.create_superuser("root", "root@example.com", PASSWORD)
    caller = login(api_client, "root")

    response = introspect(api_client, caller["access"], caller["access"])

    assert response.status_code == 200
    assert response.json()["active"] is True


def test_introspect_api_token_with_introspection_scope_is_allowed_without_permission(
    api_client: APIClient, user: Any, pair: dict[str, Any], tokenkit: Any
) -> None:
    tokenkit(API_TOKEN_SCOPES=SCOPES)
    service = api_token_services.create(
        user, name="gateway", expires_in=DAY, scopes=["introspection"]
    )

    response = introspect(api_client, service.token, pair["access"])

    assert response.status_code == 200
    assert response.json()["active"] is True


def test_introspect_api_token_whose_scope_left_the_settings_returns_403(
    api_client: APIClient, user: Any, pair: dict[str, Any], tokenkit: Any
) -> None:
    tokenkit(API_TOKEN_SCOPES=SCOPES)
    service = api_token_services.create(
        user, name="gateway", expires_in=DAY, scopes=["introspection"]
    )
    tokenkit(API_TOKEN_SCOPES={"notes:read": "Read notes"})

    response = introspect(api_client, service.token, pair["access"])

    assert response.status_code == 403
    assert response.json()["code"] == "insufficient_scope"


def test_introspect_api_token_with_other_scopes_returns_403_even_with_permission(
    api_client: APIClient, user: Any, pair: dict[str, Any]
) -> None:
    grant_introspection(user)
    scoped = api_token_services.create(user, name="reader", expires_in=DAY, scopes=["notes:read"])

    response = introspect(api_client, scoped.token, pair["access"])

    assert response.status_code == 403
    assert response.json()["code"] == "insufficient_scope"
    assert 'scope="introspection"' in response["WWW-Authenticate"]


def test_introspect_unscoped_api_token_of_a_permitted_user_is_allowed(
    api_client: APIClient, user: Any, pair: dict[str, Any]
) -> None:
    grant_introspection(user)
    service = api_token_services.create(user, name="gateway", expires_in=DAY)

    response = introspect(api_client, service.token, pair["access"])

    assert response.status_code == 200
    assert response.json()["active"] is True


# --- introspect/: the answers --------------------------------------------------------


def test_introspect_active_access_token_returns_its_claims(
    api_client: APIClient, user: Any, pair: dict[str, Any], inspector: dict[str, Any]
) -> None:
    token = tokens.decode(pair["access"], tokens.ACCESS)

    response = introspect(api_client, inspector["access"], pair["access"])

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    assert response.json() == {
        "active": True,
        "sub": str(user.pk),
        "username": "alice",
        "token_type": "access_token",
        "exp": token["exp"],
        "iat": token["iat"],
        "jti": token.jti,
        "sid": token.sid,
    }


def test_introspect_active_refresh_token_is_a_refresh_token(
    api_client: APIClient, pair: dict[str, Any], inspector: dict[str, Any]
) -> None:
    response = introspect(
        api_client, inspector["access"], pair["refresh"], token_type_hint="refresh_token"
    )

    body = response.json()
    assert body["active"] is True
    assert body["token_type"] == "refresh_token"
    assert body["jti"] == tokens.decode(pair["refresh"], tokens.REFRESH).jti


def test_introspect_includes_iss_and_aud_when_configured(
    api_client: APIClient, user: Any, tokenkit: Any, inspector: Any
) -> None:
    tokenkit(ISSUER="https://issuer.example", AUDIENCE="notes-api")
    caller = login(api_client, "carol")
    subject = login(api_client)

    body = introspect(api_client, caller["access"], subject["access"]).json()

    assert (body["iss"], body["aud"]) == ("https://issuer.example", "notes-api")


def test_introspect_active_api_token_returns_scope_and_expiry(
    api_client: APIClient, user: Any, inspector: dict[str, Any]
) -> None:
    issued = api_token_services.create(user, name="job", expires_in=DAY, scopes=["notes:read"])

    body = introspect(api_client, inspector["access"], issued.token).json()

    record = issued.record
    assert record.expires_at is not None
    assert body == {
        "active": True,
        "sub": str(user.pk),
        "username": "alice",
        "token_type": "api_token",
        "jti": str(record.pk),
        "iat": int(record.created_at.timestamp()),
        "exp": int(record.expires_at.timestamp()),
        "scope": "notes:read",
    }


def test_introspect_never_expiring_api_token_has_no_exp(
    api_client: APIClient, user: Any, inspector: dict[str, Any]
) -> None:
    issued = api_token_services.create(user, name="forever", expires_in=None)

    body = introspect(api_client, inspector["access"], issued.token).json()

    assert body["active"] is True
    assert "exp" not in body
    assert "scope" not in body


def test_introspect_expired_access_token_is_inactive(
    frozen: Any, api_client: APIClient, user: Any, inspector: dict[str, Any]
) -> None:
    subject = login(api_client)
    frozen.shift(timedelta(minutes=16))  # past the 15-minute lifetime and the leeway
    caller = login(api_client, "carol")

    response = introspect(api_client, caller["access"], subject["access"])

    assert response.json() == {"active": False}


def test_introspect_revoked_session_token_is_inactive_even_after_cache_loss(
    api_client: APIClient, pair: dict[str, Any], inspector: dict[str, Any], commit: Any
) -> None:
    with commit():
        revoke(api_client, pair["refresh"])
    caches["default"].clear()

    for raw in (pair["access"], pair["refresh"]):
        assert introspect(api_client, inspector["access"], raw).json() == {"active": False}


def test_introspect_rotated_refresh_token_is_inactive(
    api_client: APIClient, pair: dict[str, Any], inspector: dict[str, Any]
) -> None:
    new = api_client.post(REFRESH_URL, {"refresh": pair["refresh"]}, format="json").json()

    assert introspect(api_client, inspector["access"], pair["refresh"]).json() == {"active": False}
    assert introspect(api_client, inspector["access"], new["refresh"]).json()["active"] is True


def test_introspect_idle_session_refresh_token_is_inactive(
    frozen: Any, api_client: APIClient, user: Any, inspector: dict[str, Any], tokenkit: Any
) -> None:
    tokenkit(SESSION_IDLE_TIMEOUT=3600)
    subject = login(api_client)
    frozen.shift(timedelta(hours=2))
    caller = login(api_client, "carol")

    body = introspect(api_client, caller["access"], subject["refresh"]).json()

    assert body == {"active": False}


def test_introspect_inactive_user_token_is_inactive(
    api_client: APIClient, user: Any, pair: dict[str, Any], inspector: dict[str, Any]
) -> None:
    user.is_active = False
    user.save()

    assert introspect(api_client, inspector["access"], pair["access"]).json() == {"active": False}


@pytest.mark.parametrize("state", ["revoked", "expired"])
def test_introspect_unusable_api_token_is_inactive(
    frozen: Any,
    api_client: APIClient,
    user: Any,
    inspector: dict[str, Any],
    commit: Any,
    state: str,
) -> None:
    issued = api_token_services.create(user, name="job", expires_in=timedelta(hours=1))
    if state == "revoked":
        with commit():
            api_token_services.revoke([issued.record], RevokeReason.ADMIN)
    else:
        frozen.shift(timedelta(hours=2))
        inspector = login(api_client, "carol")

    body = introspect(api_client, inspector["access"], issued.token).json()

    assert body == {"active": False}


def _wrong_type(pair: dict[str, Any]) -> str:
    claims = dict(tokens.decode(pair["access"], tokens.ACCESS).claims)
    return forge({**claims, "token_type": "refresh"}, "at+jwt")


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda pair: "garbage", id="malformed"),
        pytest.param(lambda pair: "a.b.c", id="three-segments"),
        pytest.param(lambda pair: "tkp_" + "0" * 49, id="api-token-bad-checksum"),
        pytest.param(lambda pair: pair["access"][:-4] + "AAAA", id="bad-signature"),
        pytest.param(_wrong_type, id="wrong-type"),
        pytest.param(lambda pair: "x" * 10000, id="oversized"),
    ],
)
def test_introspect_invalid_token_is_inactive(
    api_client: APIClient, pair: dict[str, Any], inspector: dict[str, Any], make: Any
) -> None:
    response = introspect(api_client, inspector["access"], make(pair))

    assert response.status_code == 200
    assert response.json() == {"active": False}


def test_introspect_unknown_well_formed_api_token_is_inactive(
    api_client: APIClient, inspector: dict[str, Any]
) -> None:
    response = introspect(api_client, inspector["access"], api_token_format.generate())

    assert response.json() == {"active": False}


@pytest.mark.parametrize("body", ["", "token_type_hint=access_token"])
def test_introspect_missing_token_returns_400(
    api_client: APIClient, inspector: dict[str, Any], body: str
) -> None:
    response = api_client.post(
        INTROSPECT_URL,
        body,
        content_type="application/x-www-form-urlencoded",
        **bearer(inspector["access"]),
    )

    assert response.status_code == 400
    assert "token" in response.json()
