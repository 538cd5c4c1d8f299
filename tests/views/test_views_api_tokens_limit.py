"""``API_TOKEN_LIMIT_PER_USER`` under concurrent creates (SPEC section 6, issue 12 item 7).

Real threads, each on its own database connection, post to ``api-tokens/``
at the same moment. Counting the user's tokens and inserting one is a race
unless creations of one user are serialized (the service locks the user's
row), so this runs on PostgreSQL, the services half: SQLite has no row
locks and serializes every write anyway.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from rest_framework.test import APIClient

from django_tokenkit.models import APIToken
from tests.e2e import run_concurrently
from tests.helpers import PASSWORD, bearer, login

needs_row_locks = pytest.mark.skipif(
    os.environ.get("DATABASE_URL", "").split(":")[0] not in {"postgres", "postgresql"},
    reason="needs PostgreSQL: the race needs concurrent transactions",
)

CREATES = 8


def _create_on_own_connection(access: str, index: int) -> Callable[[], Any]:
    def create() -> Any:
        try:
            return APIClient().post(
                "/api/auth/api-tokens/",
                {"name": f"job {index}", "expires_in": 3600},
                format="json",
                **bearer(access),
            )
        finally:
            connection.close()

    return create


@needs_row_locks
@pytest.mark.parametrize("limit", [1, 3])
def test_api_tokens_concurrent_creates_stop_exactly_at_the_limit(
    transactional_db: Any, settings: Any, limit: int
) -> None:
    settings.TOKENKIT = {**settings.TOKENKIT, "API_TOKEN_LIMIT_PER_USER": limit}
    user = get_user_model().objects.create_user(username="racer", password=PASSWORD)
    access = login(APIClient(), username="racer")["access"]

    responses = run_concurrently(
        [_create_on_own_connection(access, index) for index in range(CREATES)]
    )

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [201] * limit + [409] * (CREATES - limit), [
        response.content for response in responses
    ]
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"api_token_limit"}
    assert APIToken.objects.filter(user=user).count() == limit
