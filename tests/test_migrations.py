"""The models and the migrations agree (STYLE: a test runs ``makemigrations --check``)."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from django_tokenkit.models import Session


def makemigrations_check() -> str:
    out = StringIO()
    call_command("makemigrations", "tokenkit", "--check", "--dry-run", stdout=out, stderr=out)
    return out.getvalue()


@pytest.mark.django_db
def test_makemigrations_current_models_reports_no_changes() -> None:
    assert "No changes detected" in makemigrations_check()


@pytest.mark.django_db
def test_makemigrations_changed_model_is_detected(monkeypatch: pytest.MonkeyPatch) -> None:
    # The check above must be able to fail: a model change without a migration.
    monkeypatch.setattr(Session._meta.get_field("user_agent"), "max_length", 1024)

    with pytest.raises(SystemExit) as exit_info:
        makemigrations_check()

    assert exit_info.value.code == 1
