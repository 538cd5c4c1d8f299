"""The cached copy of each user: no cliff after login, changes seen at once."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import update_last_login
from django.core.cache import caches
from rest_framework.test import APIClient

from django_tokenkit import revocation, services, users
from django_tokenkit.models import RevokeReason
from tests.helpers import PASSWORD, bearer


def login_committed(client: APIClient, capture: Any) -> dict[str, Any]:
    """Log in through the API with its transaction's on-commit work run, as in production."""
    with capture(execute=True):
        response = client.post(
            "/api/auth/token/", {"username": "alice", "password": PASSWORD}, format="json"
        )
    assert response.status_code == 200, response.content
    data: dict[str, Any] = response.json()
    return data


def test_user_cache_requests_right_after_a_last_login_save_make_no_query(
    api_client: APIClient,
    user: Any,
    django_capture_on_commit_callbacks: Any,
    django_assert_num_queries: Any,
) -> None:
    pair = login_committed(api_client, django_capture_on_commit_callbacks)
    assert api_client.get("/api/whoami/", **bearer(pair["access"])).status_code == 200
    # What django.contrib.auth.login() does (an app logging the user in to the
    # admin or a page as well), like a password hash upgrade at login: a save.
    with django_capture_on_commit_callbacks(execute=True):
        update_last_login(type(user), user)
    # The committed row is cached again at once, not tombstoned for 10 s.
    assert isinstance(caches["default"].get(users.user_key(user.pk)), type(user))

    with django_assert_num_queries(0):
        for _ in range(3):
            assert api_client.get("/api/whoami/", **bearer(pair["access"])).status_code == 200


def test_user_cache_save_replaces_the_copy_with_the_committed_row(
    api_client: APIClient, user: Any, django_capture_on_commit_callbacks: Any
) -> None:
    pair = login_committed(api_client, django_capture_on_commit_callbacks)
    assert api_client.get("/api/whoami/", **bearer(pair["access"])).status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        user.first_name = "Alice"
        user.save(update_fields=["first_name"])

    cached = caches["default"].get(users.user_key(user.pk))
    assert cached.first_name == "Alice"


def test_user_cache_deactivation_is_refused_on_the_next_request(
    api_client: APIClient, user: Any, django_capture_on_commit_callbacks: Any
) -> None:
    pair = login_committed(api_client, django_capture_on_commit_callbacks)
    assert api_client.get("/api/whoami/", **bearer(pair["access"])).status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        user.is_active = False
        user.save()

    response = api_client.get("/api/whoami/", **bearer(pair["access"]))
    assert response.status_code == 401
    assert response.json()["code"] == "token_revoked"


def test_user_cache_uncommitted_save_leaves_a_tombstone_not_the_new_row(
    user: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=False):  # never commits
        user.first_name = "Uncommitted"
        user.save()

    assert caches["default"].get(users.user_key(user.pk)) == users.TOMBSTONE


def test_user_cache_refresh_of_a_deleted_user_leaves_a_tombstone(user: Any) -> None:
    pk = user.pk
    user.delete()

    users.refresh(pk)

    assert caches["default"].get(users.user_key(pk)) == users.TOMBSTONE


def test_first_request_of_a_new_session_makes_no_query(
    api_client: APIClient,
    user: Any,
    django_capture_on_commit_callbacks: Any,
    django_assert_num_queries: Any,
) -> None:
    earlier = login_committed(api_client, django_capture_on_commit_callbacks)
    assert api_client.get("/api/whoami/", **bearer(earlier["access"])).status_code == 200

    pair = login_committed(api_client, django_capture_on_commit_callbacks)

    with django_assert_num_queries(0):
        assert api_client.get("/api/whoami/", **bearer(pair["access"])).status_code == 200


def test_login_vouches_for_its_session_in_the_cache_only_once_committed(
    user: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks() as callbacks:
        pair = services.login(user)
    key = revocation.session_key(pair.access_token.sid)
    # Not committed yet: a rollback must leave nothing that vouches for it.
    assert caches["default"].get(key) is None

    for callback in callbacks:
        callback()

    assert caches["default"].get(key) == revocation.ACTIVE


def test_login_that_commits_after_its_session_was_revoked_keeps_the_revocation(
    user: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks() as callbacks:
        pair = services.login(user)
    with django_capture_on_commit_callbacks(execute=True):
        services.revoke_session_id(pair.access_token.sid, RevokeReason.ADMIN)

    for callback in callbacks:
        callback()

    assert (
        caches["default"].get(revocation.session_key(pair.access_token.sid)) == revocation.REVOKED
    )
