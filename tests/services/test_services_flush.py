"""Flushing (:mod:`django_tokenkit.services.flush`); the command is tested in test_commands."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from django_tokenkit.models import Session
from django_tokenkit.services import flush


def make_sessions(user: Any, count: int, expires_at: Any) -> None:
    now = timezone.now()
    for _ in range(count):
        Session.objects.create(
            user=user, auth_time=now, created_at=now, expires_at=expires_at, last_used_at=now
        )


def test_flush_service_batch_size_not_positive_raises_value_error(db: Any) -> None:
    with pytest.raises(ValueError, match="batch_size"):
        list(flush.flush_expired(0))


def test_flush_expired_deletes_what_count_expired_counted_batch_by_batch(user: Any) -> None:
    now = timezone.now()
    make_sessions(user, 5, now - timedelta(days=1))
    make_sessions(user, 2, now + timedelta(days=1))
    counted = flush.count_expired(now)

    progress = list(flush.flush_expired(batch_size=2, now=now))

    assert counted["sessions"] == 5
    assert [(p.kind, p.deleted, p.total) for p in progress] == [
        ("sessions", 2, 2),
        ("sessions", 2, 4),
        ("sessions", 1, 5),
    ]
    assert Session.objects.count() == 2
    assert flush.count_expired(now) == dict.fromkeys(flush.FLUSH_KINDS, 0)
