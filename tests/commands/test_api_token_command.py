"""``tokenkit_api_token``: create, list, revoke, rotate, notify; and ``tokenkit_revoke --user``."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import timedelta
from io import StringIO
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from django_tokenkit import api_token_format, services, signals
from django_tokenkit.models import APIToken, APITokenExpiryWarning, RevokeReason, Session
from django_tokenkit.services import api_tokens
from tests.helpers import PASSWORD, assert_unauthorized, login

DAY = timedelta(days=1)
REPO_ROOT = Path(__file__).resolve().parent.parent.parent


def run(*args: str) -> tuple[str, str]:
    """Call ``tokenkit_api_token`` and return what it wrote to stdout and stderr."""
    out, err = StringIO(), StringIO()
    call_command("tokenkit_api_token", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def with_token(token: str) -> Any:
    return APIClient().get("/api/whoami/", HTTP_AUTHORIZATION=f"Bearer {token}")


@pytest.fixture
def received() -> Iterator[dict[str, list[dict[str, Any]]]]:
    """The keyword arguments of the API-token signals and ``token_revoked``, by signal."""
    sent: dict[str, list[dict[str, Any]]] = {"created": [], "rotated": [], "revoked": []}
    pairs = [
        (signals.api_token_created, "created"),
        (signals.api_token_rotated, "rotated"),
        (signals.token_revoked, "revoked"),
    ]
    receivers = []
    for signal, name in pairs:

        def receiver(sender: Any, _name: str = name, **kwargs: Any) -> None:
            sent[_name].append(kwargs)

        signal.connect(receiver, weak=False)
        receivers.append((signal, receiver))
    yield sent
    for signal, receiver in receivers:
        signal.disconnect(receiver)


# --- create -----------------------------------------------------------------------------
def test_create_prints_the_token_once_to_stdout_only(
    user: Any, received: dict[str, list[dict[str, Any]]]
) -> None:
    out, err = run(
        "create", "--user", "alice", "--name", "nightly", "--expires-in", "90d",
        "--scope", "notes:read", "--scope", "notes:write",
    )  # fmt: skip
    token = out.strip()
    assert out == token + "\n"
    assert api_token_format.is_well_formed(token)
    assert token not in err
    record = APIToken.objects.get()
    assert record.hint in err
    assert str(record.pk) in err
    assert record.scopes == ["notes:read", "notes:write"]
    assert record.expires_at is not None
    assert abs(record.expires_at - (timezone.now() + 90 * DAY)) < timedelta(minutes=1)
    assert with_token(token).status_code == 200
    assert len(received["created"]) == 1


@pytest.mark.parametrize(
    ("argument", "seconds"),
    [("3600", 3600), ("12h", 12 * 3600), ("30m", 1800), ("2w", 14 * 86400), ("45s", 45)],
)
def test_create_expires_in_units(user: Any, argument: str, seconds: int) -> None:
    run("create", "--user", "alice", "--name", "x", "--expires-in", argument)
    record = APIToken.objects.get()
    assert record.expires_at is not None
    assert record.expires_at - record.created_at == timedelta(seconds=seconds)


def test_create_never_expires_and_says_so(user: Any) -> None:
    _, err = run("create", "--user", str(user.pk), "--name", "forever", "--never")
    assert APIToken.objects.get().expires_at is None
    assert "NEVER expires" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--user", "nobody", "--name", "x", "--never"], "No user with username"),
        (["--user", "\x00", "--name", "x", "--never"], "No user with username"),
        (["--user", "9" * 30, "--name", "x", "--never"], "No user with username"),
        (["--user", "alice", "--name", "x", "--expires-in", "90x"], "not a duration"),
        (["--user", "alice", "--name", "x", "--expires-in", "-5"], "not a duration"),
        (["--user", "alice", "--name", "x", "--expires-in", "9" * 40], "not a duration"),
        (["--user", "alice", "--name", "x", "--expires-in", "0"], "positive"),
        (["--user", "alice", "--name", "x", "--expires-in", "99999w"], "at most"),
        (["--user", "alice", "--name", "x" * 10_000, "--never"], "at most"),
        (["--user", "alice", "--name", "x", "--never", "--scope", "nope"], "Unknown scope"),
        (["--user", "alice", "--name", "x"], "one of the arguments"),
        (["--user", "alice", "--name", "x", "--never", "--expires-in", "1d"], "not allowed"),
    ],
)
def test_create_bad_input_is_a_command_error_and_creates_nothing(
    user: Any, args: list[str], message: str
) -> None:
    with pytest.raises(CommandError, match=message):
        run("create", *args)
    assert not APIToken.objects.exists()


def test_create_never_with_a_maximum_lifetime_is_a_command_error(user: Any, settings: Any) -> None:
    settings.TOKENKIT = {**settings.TOKENKIT, "API_TOKEN_MAX_LIFETIME": 30 * 86400}
    with pytest.raises(CommandError, match="never expire are not allowed"):
        run("create", "--user", "alice", "--name", "x", "--never")
    assert not APIToken.objects.exists()


# --- list -------------------------------------------------------------------------------
def test_list_shows_hint_status_and_expiry_never_a_secret(user: Any, other_user: Any) -> None:
    mine = api_tokens.create(user, name="nightly", expires_in=DAY)
    forever = api_tokens.create(user, name="forever", expires_in=None)
    gone = api_tokens.create(user, name="gone", expires_in=DAY)
    api_tokens.revoke([gone.record], RevokeReason.ADMIN)
    theirs = api_tokens.create(other_user, name="bob's", expires_in=DAY)

    out, err = run("list", "--user", "alice")
    assert mine.record.hint in out
    assert "expires NEVER" in out
    assert "gone" not in out
    assert "bob's" not in out
    assert "2 API tokens." in err
    everything, _ = run("list", "--all")
    assert "gone" in everything
    assert "revoked" in everything
    assert "bob's" in everything
    for issued in (mine, forever, gone, theirs):
        assert issued.token not in everything
        assert issued.record.digest not in everything


def test_list_unknown_user_is_a_command_error(db: Any) -> None:
    with pytest.raises(CommandError, match="No user"):
        run("list", "--user", "nobody")


# --- revoke -----------------------------------------------------------------------------
def test_revoke_refused_on_next_request_and_twice_is_harmless(
    user: Any,
    django_capture_on_commit_callbacks: Any,
    received: dict[str, list[dict[str, Any]]],
) -> None:
    target = api_tokens.create(user, name="target", expires_in=DAY)
    kept = api_tokens.create(user, name="kept", expires_in=DAY)
    assert with_token(target.token).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        out, _ = run("revoke", str(target.record.pk))
    assert "Revoked 1 API token" in out
    assert_unauthorized(with_token(target.token), "token_revoked")
    assert with_token(kept.token).status_code == 200
    assert APIToken.objects.get(pk=target.record.pk).revoke_reason == RevokeReason.COMMAND
    with django_capture_on_commit_callbacks(execute=True):
        again, _ = run("revoke", str(target.record.pk))
    assert "was already revoked" in again
    assert [s["unit"] for s in received["revoked"]] == ["api_token"]


def test_revoke_malformed_id_is_a_command_error_before_any_query(
    db: Any, django_assert_num_queries: Any
) -> None:
    with django_assert_num_queries(0), pytest.raises(CommandError, match="not an API token id"):
        run("revoke", "not-a-uuid")


def test_revoke_unknown_id_is_a_command_error_and_revokes_nothing(user: Any) -> None:
    known = api_tokens.create(user, name="x", expires_in=DAY)
    unknown = "00000000-0000-4000-8000-000000000000"
    with pytest.raises(CommandError, match=f"No API token with id {unknown}"):
        run("revoke", str(known.record.pk), unknown)
    assert APIToken.objects.get().revoked_at is None


# --- rotate -----------------------------------------------------------------------------
def test_rotate_prints_the_new_token_once_and_ends_the_old_one(
    user: Any,
    django_capture_on_commit_callbacks: Any,
    received: dict[str, list[dict[str, Any]]],
) -> None:
    old = api_tokens.create(user, name="nightly", expires_in=30 * DAY, scopes=["notes:read"])
    with django_capture_on_commit_callbacks(execute=True):
        out, err = run("rotate", str(old.record.pk))
    new_token = out.strip()
    assert out == new_token + "\n"
    assert new_token not in err
    new = APIToken.objects.get(rotated_from=old.record)
    assert new.scopes == ["notes:read"]
    assert with_token(new_token).status_code == 200
    assert_unauthorized(with_token(old.token), "token_expired")
    assert len(received["rotated"]) == 1
    with pytest.raises(CommandError, match="cannot be rotated"):
        run("rotate", str(old.record.pk))


def test_rotate_with_grace_and_new_lifetime(user: Any) -> None:
    old = api_tokens.create(user, name="nightly", expires_in=30 * DAY)
    run("rotate", str(old.record.pk), "--grace", "1h", "--never")
    assert with_token(old.token).status_code == 200
    assert APIToken.objects.get(rotated_from=old.record).expires_at is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["not-a-uuid"], "not an API token id"),
        (["00000000-0000-4000-8000-000000000000"], "No API token with id"),
        (["ID", "--grace", "2d"], "grace_seconds must be between"),
        (["ID", "--grace", "soon"], "not a duration"),
        (["ID", "--expires-in", "0"], "positive"),
    ],
)
def test_rotate_bad_input_is_a_command_error(user: Any, args: list[str], message: str) -> None:
    old = api_tokens.create(user, name="nightly", expires_in=30 * DAY)
    args = [str(old.record.pk) if arg == "ID" else arg for arg in args]
    with pytest.raises(CommandError, match=message):
        run("rotate", *args)
    assert APIToken.objects.count() == 1


# --- notify -----------------------------------------------------------------------------
def test_notify_sends_each_due_warning_once_and_reports_it(user: Any) -> None:
    due = api_tokens.create(user, name="due", expires_in=3 * DAY)
    api_tokens.create(user, name="later", expires_in=30 * DAY)
    out, _ = run("notify")
    assert f"API token {due.record.pk}" in out
    assert "Sent 1 expiry warning." in out
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["alice@example.com"]
    again, _ = run("notify")
    assert again == "Sent 0 expiry warnings.\n"
    assert len(mail.outbox) == 1


_NOTIFY_SETTINGS = """
import os, time
from pathlib import Path

from tests.settings import *  # noqa: F403

EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
EMAIL_FILE_PATH = os.environ["NOTIFY_MAIL_DIR"]

# Both processes get here, then go on together: a barrier across processes.
_barrier = Path(os.environ["NOTIFY_BARRIER"])
(_barrier / str(os.getpid())).touch()
_deadline = time.monotonic() + 60
while len(list(_barrier.iterdir())) < 2 and time.monotonic() < _deadline:
    time.sleep(0.005)
"""


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL: two processes share the database (SQLite here is in memory)",
)
def test_notify_run_twice_concurrently_in_two_processes_sends_each_warning_once(
    transactional_db: Any, django_user_model: Any, tmp_path: Path
) -> None:
    owner = django_user_model.objects.create_user(
        username="owner", email="owner@example.com", password=PASSWORD
    )
    due = [api_tokens.create(owner, name=f"job {i}", expires_in=3 * DAY) for i in range(40)]
    (tmp_path / "notify_settings.py").write_text(textwrap.dedent(_NOTIFY_SETTINGS))
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    parts = urlsplit(os.environ["DATABASE_URL"])
    database_url = urlunsplit(parts._replace(path=f"/{connection.settings_dict['NAME']}"))
    processes = []
    for index in range(2):
        mail_dir = tmp_path / f"mail{index}"
        mail_dir.mkdir()
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "DJANGO_SETTINGS_MODULE": "notify_settings",
            "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO_ROOT)]),
            "NOTIFY_MAIL_DIR": str(mail_dir),
            "NOTIFY_BARRIER": str(barrier),
        }
        processes.append(
            subprocess.Popen(
                [sys.executable, "-m", "django", "tokenkit_api_token", "notify"],
                cwd=REPO_ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    outputs = [process.communicate(timeout=120) for process in processes]
    for process, (_out, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, err

    warned = [
        {str(issued.record.pk) for issued in due if f"API token {issued.record.pk}" in out}
        for out, _ in outputs
    ]
    assert warned[0] | warned[1] == {str(issued.record.pk) for issued in due}
    assert not warned[0] & warned[1]
    emails = [
        sum(path.read_text().count("Subject: Your API token") for path in directory.iterdir())
        for directory in (tmp_path / "mail0", tmp_path / "mail1")
    ]
    assert emails == [len(warned[0]), len(warned[1])]
    assert sum(emails) == len(due)
    assert APITokenExpiryWarning.objects.count() == len(due)


# --- tokenkit_revoke --user also ends API tokens, and says so ------------------------------
def test_tokenkit_revoke_user_also_revokes_api_tokens_and_says_so(
    user: Any, api_client: APIClient, django_capture_on_commit_callbacks: Any
) -> None:
    pair = login(api_client)
    issued = api_tokens.create(user, name="nightly", expires_in=DAY)
    out = StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("tokenkit_revoke", "--user", "alice", stdout=out)
    assert out.getvalue() == f"Revoked 1 session and 1 API token of user alice (pk {user.pk}).\n"
    assert_unauthorized(with_token(issued.token), "token_revoked")
    assert_unauthorized(
        api_client.get("/api/whoami/", HTTP_AUTHORIZATION=f"Bearer {pair['access']}"),
        "token_revoked",
    )
    again = StringIO()
    call_command("tokenkit_revoke", "--user", "alice", stdout=again)
    assert "already revoked" in again.getvalue()


def test_tokenkit_revoke_user_with_only_api_tokens_revokes_them(user: Any) -> None:
    api_tokens.create(user, name="nightly", expires_in=DAY)
    out = StringIO()
    call_command("tokenkit_revoke", "--user", "alice", stdout=out)
    assert "Revoked 0 sessions and 1 API token" in out.getvalue()
    assert APIToken.objects.get().revoke_reason == RevokeReason.COMMAND


def test_logout_all_path_leaves_api_tokens_but_the_operator_path_ends_them(
    user: Any, api_client: APIClient, django_capture_on_commit_callbacks: Any
) -> None:
    login(api_client)
    issued = api_tokens.create(user, name="nightly", expires_in=DAY)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.logout([], everywhere_for=user) == 1
    assert with_token(issued.token).status_code == 200
    login(api_client)
    with django_capture_on_commit_callbacks(execute=True):
        revoked = services.revoke_users_and_api_tokens([user.pk], RevokeReason.ADMIN)
    assert (revoked.sessions, revoked.api_tokens) == (1, 1)
    assert_unauthorized(with_token(issued.token), "token_revoked")
    assert not Session.objects.filter(user=user, revoked_at__isnull=True).exists()
