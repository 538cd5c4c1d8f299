"""Management commands: tokenkit_flush, tokenkit_revoke, tokenkit_generate_key."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from django_tokenkit import checks, signals, tokens
from django_tokenkit.cache import get_cache
from django_tokenkit.models import BlacklistedToken, IssuedToken, RevokeReason, Session
from tests.helpers import FROZEN_AT, assert_unauthorized, login, whoami

NOW = FROZEN_AT
LEEWAY = timedelta(seconds=30)
ACCESS_LIFETIME = timedelta(minutes=15)
REFRESH_LIFETIME = timedelta(days=7)
SESSION_CAP = timedelta(days=30)
FAR = NOW + timedelta(days=20)

REFRESH_URL = "/api/auth/token/refresh/"


@pytest.fixture
def revocations() -> Iterator[list[dict[str, Any]]]:
    """The keyword arguments of every ``token_revoked`` signal sent during the test."""
    sent: list[dict[str, Any]] = []

    def receiver(sender: Any, **kwargs: Any) -> None:
        sent.append(kwargs)

    signals.token_revoked.connect(receiver, dispatch_uid="test_commands")
    yield sent
    signals.token_revoked.disconnect(dispatch_uid="test_commands")


def run(name: str, *args: str, **options: Any) -> str:
    """Call a command and return what it printed."""
    out = StringIO()
    call_command(name, *args, stdout=out, **options)
    return out.getvalue()


def make_session(user: Any, *, expires_at: datetime = FAR, **fields: Any) -> Session:
    session: Session = Session.objects.create(
        user=user, auth_time=NOW - timedelta(days=1), expires_at=expires_at, **fields
    )
    return session


def make_token(session: Session, *, expires_at: datetime, **fields: Any) -> IssuedToken:
    token: IssuedToken = IssuedToken.objects.create(
        jti=tokens.new_jti(), session=session, expires_at=expires_at, **fields
    )
    return token


def make_blacklisted(*, expires_at: datetime, session: Session | None = None) -> BlacklistedToken:
    row: BlacklistedToken = BlacklistedToken.objects.create(
        jti=tokens.new_jti(), token_type="access", expires_at=expires_at, session=session
    )
    return row


def refresh(client: APIClient, raw: str) -> Any:
    return client.post(REFRESH_URL, {"refresh": raw}, format="json")


def claims(raw: str, token_type: tokens.TokenType = "access") -> tokens.Token:
    return tokens.decode(raw, token_type)


# tokenkit_flush: what goes and what stays ---------------------------------------

#: (time past expires_at + LEEWAY, deleted?): strictly after, never at the edge.
EDGES = [
    (-timedelta(seconds=1), False),
    (timedelta(0), False),
    (timedelta(microseconds=1), True),
    (timedelta(seconds=1), True),
]


@pytest.mark.parametrize(("past", "deleted"), EDGES)
def test_flush_issued_token_around_expiry_plus_leeway_deleted_only_after(
    frozen: Any, user: Any, past: timedelta, deleted: bool
) -> None:
    token = make_token(make_session(user), expires_at=NOW - LEEWAY - past)

    run("tokenkit_flush")

    assert IssuedToken.objects.filter(pk=token.pk).exists() is not deleted


@pytest.mark.parametrize(("past", "deleted"), EDGES)
def test_flush_blacklisted_token_around_expiry_plus_leeway_deleted_only_after(
    frozen: Any, user: Any, past: timedelta, deleted: bool
) -> None:
    row = make_blacklisted(expires_at=NOW - LEEWAY - past, session=make_session(user))

    run("tokenkit_flush")

    assert BlacklistedToken.objects.filter(pk=row.pk).exists() is not deleted


@pytest.mark.parametrize(("past", "deleted"), EDGES)
def test_flush_session_around_cap_plus_leeway_deleted_only_after(
    frozen: Any, user: Any, past: timedelta, deleted: bool
) -> None:
    session = make_session(user, expires_at=NOW - LEEWAY - past)

    run("tokenkit_flush")

    assert Session.objects.filter(pk=session.pk).exists() is not deleted


def test_flush_session_past_cap_cascades_its_tokens_and_keeps_blacklist(
    frozen: Any, user: Any
) -> None:
    session = make_session(user, expires_at=NOW - LEEWAY - timedelta(seconds=1))
    make_token(session, expires_at=session.expires_at)
    # Inconsistent on purpose (no token outlives its cap): the session takes it along.
    make_token(session, expires_at=NOW + timedelta(days=1))
    # A blacklist row is judged by its own expiry, not by its session's.
    row = make_blacklisted(expires_at=NOW, session=session)

    run("tokenkit_flush")

    assert not Session.objects.filter(pk=session.pk).exists()
    assert not IssuedToken.objects.filter(session_id=session.pk).exists()
    row.refresh_from_db()
    assert row.session_id is None


def test_flush_live_rows_all_kept(frozen: Any, user: Any) -> None:
    session = make_session(user)
    make_token(session, expires_at=NOW + REFRESH_LIFETIME)
    make_blacklisted(expires_at=NOW + ACCESS_LIFETIME, session=session)

    output = run("tokenkit_flush")

    assert (Session.objects.count(), IssuedToken.objects.count()) == (1, 1)
    assert BlacklistedToken.objects.count() == 1
    assert output == (
        "Deleted 0 issued tokens, 0 blacklisted tokens, 0 sessions, 0 revoked sessions, "
        "0 pending revocations.\n"
    )


# A revoked session goes once every token of it has expired: no unexpired
# refresh token left and ACCESS_TOKEN_LIFETIME + LEEWAY since its revocation.
REVOKED_CASES = [
    pytest.param(
        ACCESS_LIFETIME + LEEWAY + timedelta(seconds=1), None, True, id="no-tokens-long-ago"
    ),
    pytest.param(ACCESS_LIFETIME + LEEWAY, None, False, id="no-tokens-access-may-live"),
    pytest.param(timedelta(hours=1), -LEEWAY - timedelta(seconds=1), True, id="tokens-expired"),
    pytest.param(timedelta(hours=1), -LEEWAY, False, id="token-within-leeway"),
    pytest.param(timedelta(hours=1), timedelta(days=3), False, id="refresh-token-unexpired"),
]


@pytest.mark.parametrize(("revoked_ago", "token_expires_in", "deleted"), REVOKED_CASES)
def test_flush_revoked_session_deleted_once_all_its_tokens_expired(
    frozen: Any,
    user: Any,
    revoked_ago: timedelta,
    token_expires_in: timedelta | None,
    deleted: bool,
) -> None:
    session = make_session(user, revoked_at=NOW - revoked_ago, revoke_reason=RevokeReason.LOGOUT)
    if token_expires_in is not None:
        make_token(session, expires_at=NOW + token_expires_in, revoked_at=session.revoked_at)
        make_token(session, expires_at=NOW - timedelta(days=2), revoked_at=session.revoked_at)

    run("tokenkit_flush")

    assert Session.objects.filter(pk=session.pk).exists() is not deleted


def test_flush_unrevoked_session_with_expired_tokens_kept(frozen: Any, user: Any) -> None:
    session = make_session(user)
    make_token(session, expires_at=NOW - timedelta(days=1))

    run("tokenkit_flush")

    assert Session.objects.filter(pk=session.pk).exists()
    assert not IssuedToken.objects.exists()


# tokenkit_flush: batches, dry run, output -----------------------------------------


def test_flush_batch_size_two_prints_progress_per_batch(frozen: Any, user: Any) -> None:
    for _ in range(7):
        make_session(user, expires_at=NOW - timedelta(days=1))
    live = make_session(user)

    output = run("tokenkit_flush", "--batch-size", "2")

    assert output.splitlines() == [
        "sessions: deleted 2 (total 2)",
        "sessions: deleted 2 (total 4)",
        "sessions: deleted 2 (total 6)",
        "sessions: deleted 1 (total 7)",
        "Deleted 0 issued tokens, 0 blacklisted tokens, 7 sessions, 0 revoked sessions, "
        "0 pending revocations.",
    ]
    assert list(Session.objects.values_list("pk", flat=True)) == [live.pk]


def test_flush_deletes_by_primary_key_batches_never_more_than_a_batch(
    frozen: Any, user: Any
) -> None:
    session = make_session(user)
    for _ in range(7):
        make_token(session, expires_at=NOW - timedelta(days=1))
        make_blacklisted(expires_at=NOW - timedelta(days=1))
        make_session(user, expires_at=NOW - timedelta(days=1))

    with CaptureQueriesContext(connection) as queries:
        run("tokenkit_flush", "--batch-size", "3")

    statements = [query["sql"] for query in queries.captured_queries]
    selects = [sql for sql in statements if sql.startswith("SELECT") and "LIMIT" in sql]
    # Per kind: batches of 3, 3 and 1 (a short batch ends the kind).
    assert len(selects) == 3 + 3 + 3 + 1 + 1  # revoked sessions, pending revocations: empty
    assert all(re.search(r"LIMIT 3\b", sql) for sql in selects)
    for sql in statements:
        if sql.startswith(("DELETE", "UPDATE")) or (
            sql.startswith("SELECT") and "LIMIT" not in sql
        ):
            # Every other statement names its rows by a list of at most 3 keys.
            lists = re.findall(r"\bIN \(([^()]*)\)", sql)
            assert lists, sql
            assert all(len(keys.split(",")) <= 3 for keys in lists), sql
    assert (Session.objects.count(), IssuedToken.objects.count()) == (1, 0)
    assert BlacklistedToken.objects.count() == 0


def test_flush_dry_run_counts_and_deletes_nothing(frozen: Any, user: Any) -> None:
    session = make_session(user, expires_at=NOW - timedelta(days=1))
    make_token(session, expires_at=NOW - timedelta(days=2))
    make_blacklisted(expires_at=NOW - timedelta(days=1))
    make_session(user, revoked_at=NOW - timedelta(days=1))

    output = run("tokenkit_flush", "--dry-run")

    assert output == (
        "Dry run, nothing deleted. Would delete 1 issued tokens, 1 blacklisted tokens, "
        "1 sessions, 1 revoked sessions, 0 pending revocations.\n"
    )
    assert (Session.objects.count(), IssuedToken.objects.count()) == (2, 1)
    assert BlacklistedToken.objects.count() == 1
    # A dry run's counts are what a real run deletes.
    assert run("tokenkit_flush", "-v", "0") == ""
    assert (Session.objects.count(), IssuedToken.objects.count()) == (0, 0)
    assert BlacklistedToken.objects.count() == 0


def test_flush_run_twice_second_run_deletes_nothing(frozen: Any, user: Any) -> None:
    for _ in range(3):
        make_session(user, expires_at=NOW - timedelta(days=1))
    make_session(user)

    run("tokenkit_flush")
    second = run("tokenkit_flush")

    assert second == (
        "Deleted 0 issued tokens, 0 blacklisted tokens, 0 sessions, 0 revoked sessions, "
        "0 pending revocations.\n"
    )
    assert Session.objects.count() == 1


def test_flush_verbosity_zero_prints_nothing(frozen: Any, user: Any) -> None:
    make_session(user, expires_at=NOW - timedelta(days=1))

    assert run("tokenkit_flush", verbosity=0) == ""
    assert not Session.objects.exists()


@pytest.mark.parametrize("batch_size", ["0", "-5"])
def test_flush_batch_size_not_positive_raises_command_error(db: Any, batch_size: str) -> None:
    with pytest.raises(CommandError, match="--batch-size"):
        run("tokenkit_flush", "--batch-size", batch_size)


# tokenkit_flush never revives a revoked token -----------------------------------


def test_flush_revoked_access_token_stays_revoked_within_leeway(
    frozen: Any,
    user: Any,
    api_client: APIClient,
    django_capture_on_commit_callbacks: Any,
) -> None:
    pair = login(api_client)
    with django_capture_on_commit_callbacks(execute=True):
        run("tokenkit_revoke", "--jti=" + claims(pair["access"]).jti)
    # Past exp, inside the leeway: the token still verifies, so its blacklist row must stay.
    frozen.move_to(NOW + ACCESS_LIFETIME + LEEWAY - timedelta(seconds=1), tick=False)

    run("tokenkit_flush")
    get_cache().clear()  # a Redis restart: only the database is left

    assert BlacklistedToken.objects.count() == 1
    assert_unauthorized(whoami(api_client, pair["access"]), "token_revoked")


def test_flush_revoked_session_stays_revoked(
    frozen: Any,
    user: Any,
    api_client: APIClient,
    django_capture_on_commit_callbacks: Any,
) -> None:
    pair = login(api_client)
    sid = claims(pair["access"]).sid
    with django_capture_on_commit_callbacks(execute=True):
        run("tokenkit_revoke", "--session", sid)

    run("tokenkit_flush")
    get_cache().clear()

    assert_unauthorized(whoami(api_client, pair["access"]), "token_revoked")
    assert_unauthorized(refresh(api_client, pair["refresh"]), "token_revoked")
    # A day on, the refresh token is still unexpired: its session row stays.
    frozen.move_to(NOW + timedelta(days=1), tick=False)
    run("tokenkit_flush")
    assert Session.objects.filter(pk=sid).exists()
    assert_unauthorized(refresh(api_client, pair["refresh"]), "token_revoked")


def test_flush_revoked_session_row_gone_its_tokens_still_refused(
    frozen: Any,
    user: Any,
    api_client: APIClient,
    django_capture_on_commit_callbacks: Any,
) -> None:
    """Even a session row deleted early could not revive its tokens: missing means revoked."""
    pair = login(api_client)
    sid = claims(pair["access"]).sid
    with django_capture_on_commit_callbacks(execute=True):
        run("tokenkit_revoke", "--session", sid)
    Session.objects.filter(pk=sid).delete()
    get_cache().clear()

    assert_unauthorized(whoami(api_client, pair["access"]), "token_revoked")
    assert_unauthorized(refresh(api_client, pair["refresh"]), "token_revoked")


# tokenkit_revoke ---------------------------------------------------------------


@pytest.mark.parametrize("by", ["username", "pk"])
def test_revoke_user_all_sessions_refused_on_next_request(
    frozen: Any,
    user: Any,
    other_user: Any,
    api_client: APIClient,
    django_capture_on_commit_callbacks: Any,
    revocations: list[dict[str, Any]],
    by: str,
) -> None:
    first, second = login(api_client), login(api_client)
    bystander = login(api_client, "bob")
    identifier = user.get_username() if by == "username" else str(user.pk)

    with django_capture_on_commit_callbacks(execute=True):
        output = run("tokenkit_revoke", "--user", identifier)

    assert output == f"Revoked 2 sessions and 0 API tokens of user alice (pk {user.pk}).\n"
    for pair in (first, second):
        assert_unauthorized(whoami(api_client, pair["access"]), "token_revoked")
        assert_unauthorized(refresh(api_client, pair["refresh"]), "token_revoked")
    assert whoami(api_client, bystander["access"]).status_code == 200
    assert sorted(sent["unit"] for sent in revocations) == ["session", "session", "user"]
    assert {sent["reason"] for sent in revocations} == {RevokeReason.COMMAND}
    assert set(Session.objects.filter(user=user).values_list("revoke_reason", flat=True)) == {
        RevokeReason.COMMAND
    }


def test_revoke_user_twice_says_already_revoked_and_signals_once(
    frozen: Any,
    user: Any,
    api_client: APIClient,
    django_capture_on_commit_callbacks: Any,
    revocations: list[dict[str, Any]],
) -> None:
    login(api_client)
    with django_capture_on_commit_callbacks(execute=True):
        run("tokenkit_revoke", "--user", "alice")
        output = run("tokenkit_revoke", "--user", "alice")

    assert output == (
        f"User alice (pk {user.pk}) has no unrevoked sessions or API tokens: already revoked.\n"
    )
    assert [sent["unit"] for sent in revocations] == ["session", "user"]


def test_revoke_user_username_preferred_over_pk(
    frozen: Any, user: Any, django_user_model: Any, api_client: APIClient
) -> None:
    numeric = django_user_model.objects.create_user(username=str(user.pk), password="x")
    login(api_client)

    output = run("tokenkit_revoke", "--user", str(user.pk))

    assert output.startswith(f"User {user.pk} (pk {numeric.pk}) has no unrevoked")
    assert Session.objects.filter(user=user, revoked_at__isnull=True).count() == 1


@pytest.mark.parametrize("identifier", ["nobody", "999999", "", "\x00", "alice\x00", "1\x00"])
def test_revoke_user_unknown_raises_command_error(db: Any, identifier: str) -> None:
    with pytest.raises(CommandError, match="No user with username or primary key"):
        run("tokenkit_revoke", "--user", identifier)


def test_revoke_session_refused_on_next_request_other_session_kept(
    frozen: Any,
    user: Any,
    api_client: APIClient,
    django_capture_on_commit_callbacks: Any,
    revocations: list[dict[str, Any]],
) -> None:
    target, kept = login(api_client), login(api_client)
    sid = claims(target["access"]).sid

    with django_capture_on_commit_callbacks(execute=True):
        output = run("tokenkit_revoke", "--session", sid, "--reason", "user_deactivated")

    assert output == f"Revoked session {sid} of user pk {user.pk}.\n"
    assert_unauthorized(whoami(api_client, target["access"]), "token_revoked")
    assert_unauthorized(refresh(api_client, target["refresh"]), "token_revoked")
    assert whoami(api_client, kept["access"]).status_code == 200
    assert revocations == [
        {
            "signal": signals.token_revoked,
            "unit": "session",
            "identifier": sid,
            "reason": RevokeReason.USER_DEACTIVATED,
            "user_id": user.pk,
        }
    ]
    assert Session.objects.get(pk=sid).revoke_reason == RevokeReason.USER_DEACTIVATED


def test_revoke_session_twice_says_already_revoked_and_signals_once(
    frozen: Any,
    user: Any,
    api_client: APIClient,
    django_capture_on_commit_callbacks: Any,
    revocations: list[dict[str, Any]],
) -> None:
    sid = claims(login(api_client)["access"]).sid
    with django_capture_on_commit_callbacks(execute=True):
        run("tokenkit_revoke", "--session", sid)
        output = run("tokenkit_revoke", "--session", sid)

    assert output == f"Session {sid} was already revoked.\n"
    assert len(revocations) == 1


@pytest.mark.parametrize(
    ("sid", "message"),
    [
        ("not-a-uuid", "is not a session id"),
        ("", "is not a session id"),
        ("\x00", "is not a session id"),
        (f"{uuid.uuid4()}\x00", "is not a session id"),
        (str(uuid.uuid4()), "No session"),
    ],
)
def test_revoke_session_malformed_or_unknown_raises_command_error(
    db: Any, sid: str, message: str
) -> None:
    with pytest.raises(CommandError, match=message):
        run("tokenkit_revoke", "--session", sid)


def test_revoke_jti_access_token_refused_its_session_kept(
    frozen: Any,
    user: Any,
    api_client: APIClient,
    django_capture_on_commit_callbacks: Any,
    revocations: list[dict[str, Any]],
) -> None:
    pair = login(api_client)
    access = claims(pair["access"])

    with django_capture_on_commit_callbacks(execute=True):
        output = run("tokenkit_revoke", f"--jti={access.jti}")

    assert output == f"Revoked token {access.jti}.\n"
    assert_unauthorized(whoami(api_client, pair["access"]), "token_revoked")
    renewed = refresh(api_client, pair["refresh"])
    assert renewed.status_code == 200
    assert whoami(api_client, renewed.json()["access"]).status_code == 200
    row = BlacklistedToken.objects.get()
    assert (row.jti, row.token_type, row.expires_at) == (access.jti, "access", access.expires_at)
    assert (str(row.session_id), row.user_id) == (access.sid, user.pk)
    assert [(sent["unit"], sent["identifier"]) for sent in revocations] == [("token", access.jti)]


def test_revoke_jti_refresh_token_refused_access_token_kept(
    frozen: Any,
    user: Any,
    api_client: APIClient,
    django_capture_on_commit_callbacks: Any,
    revocations: list[dict[str, Any]],
) -> None:
    pair = login(api_client)
    jti = claims(pair["refresh"], "refresh").jti

    with django_capture_on_commit_callbacks(execute=True):
        run("tokenkit_revoke", f"--jti={jti}")

    assert_unauthorized(refresh(api_client, pair["refresh"]), "token_revoked")
    assert whoami(api_client, pair["access"]).status_code == 200
    assert IssuedToken.objects.get(pk=jti).revoked_at == NOW
    assert BlacklistedToken.objects.get().token_type == "refresh"
    assert [sent["unit"] for sent in revocations] == ["token"]


def test_revoke_jti_twice_says_already_revoked_and_signals_once(
    frozen: Any,
    user: Any,
    api_client: APIClient,
    django_capture_on_commit_callbacks: Any,
    revocations: list[dict[str, Any]],
) -> None:
    jti = claims(login(api_client)["access"]).jti
    with django_capture_on_commit_callbacks(execute=True):
        run("tokenkit_revoke", f"--jti={jti}")
        output = run("tokenkit_revoke", f"--jti={jti}")

    assert output == f"Token {jti} was already revoked.\n"
    assert len(revocations) == 1


def test_revoke_jti_of_revoked_session_says_already_revoked(
    frozen: Any,
    user: Any,
    api_client: APIClient,
    django_capture_on_commit_callbacks: Any,
    revocations: list[dict[str, Any]],
) -> None:
    pair = login(api_client)
    with django_capture_on_commit_callbacks(execute=True):
        run("tokenkit_revoke", "--session", claims(pair["access"]).sid)
        output = run("tokenkit_revoke", "--jti=" + claims(pair["refresh"], "refresh").jti)

    assert output.endswith("was already revoked.\n")
    assert not BlacklistedToken.objects.exists()
    assert [sent["unit"] for sent in revocations] == ["session"]


def test_revoke_jti_unknown_raises_command_error_pointing_to_session(
    frozen: Any, user: Any, api_client: APIClient
) -> None:
    login(api_client)

    with pytest.raises(CommandError, match="--session"):
        run("tokenkit_revoke", "--jti=no-such-token")
    assert not BlacklistedToken.objects.exists()


@pytest.mark.parametrize(
    "jti", ["", "\x00", "abc\x00def", "two words", "a" * 65, "é" * 22, "a/b", "a\n"]
)
def test_revoke_jti_malformed_raises_command_error_before_any_query(
    user: Any, jti: str, django_assert_num_queries: Any, revocations: list[dict[str, Any]]
) -> None:
    with django_assert_num_queries(0), pytest.raises(CommandError, match="is not a token id"):
        run("tokenkit_revoke", f"--jti={jti}")
    assert revocations == []


def test_revoke_jti_sliding_renewal_not_on_record_raises_command_error(
    frozen: Any, user: Any, api_client: APIClient
) -> None:
    pair = login(api_client)
    frozen.move_to(NOW + ACCESS_LIFETIME - timedelta(minutes=1), tick=False)
    response = whoami(api_client, pair["access"])
    renewed = claims(response["X-New-Token"])

    with pytest.raises(CommandError, match="revoke its session with --session"):
        run("tokenkit_revoke", f"--jti={renewed.jti}")


@pytest.mark.parametrize(
    "args",
    [
        pytest.param([], id="none"),
        pytest.param(["--user", "alice", "--session", str(uuid.uuid4())], id="user+session"),
        pytest.param(["--session", str(uuid.uuid4()), "--jti", "x"], id="session+jti"),
        pytest.param(["--user", "alice", "--jti", "x"], id="user+jti"),
    ],
)
def test_revoke_not_exactly_one_unit_raises_command_error(
    user: Any, args: list[str], revocations: list[dict[str, Any]]
) -> None:
    with pytest.raises(CommandError):
        run("tokenkit_revoke", *args)
    assert revocations == []


def test_revoke_unknown_reason_raises_command_error(user: Any) -> None:
    with pytest.raises(CommandError, match="invalid choice"):
        run("tokenkit_revoke", "--user", "alice", "--reason", "because")


def test_revoke_verbosity_zero_prints_nothing(
    frozen: Any, user: Any, api_client: APIClient
) -> None:
    login(api_client)

    assert run("tokenkit_revoke", "--user", "alice", verbosity=0) == ""
    assert run("tokenkit_revoke", "--user", "alice", verbosity=0) == ""
    assert not Session.objects.filter(revoked_at__isnull=True).exists()


# tokenkit_generate_key ---------------------------------------------------------


def test_generate_key_prints_fresh_key_strong_enough_for_hs512(settings: Any) -> None:
    first, second = run("tokenkit_generate_key").strip(), run("tokenkit_generate_key").strip()

    assert first != second
    assert re.fullmatch(r"[A-Za-z0-9_-]{86}", first)
    settings.TOKENKIT = {"ALGORITHM": "HS512", "SIGNING_KEYS": [first]}
    assert checks.check_keys() == []


def test_generate_key_with_kid_prints_signing_keys_entry(settings: Any, frozen: Any) -> None:
    output = run("tokenkit_generate_key", "--kid", 'key "2026-03"')

    entry = json.loads(output)
    assert set(entry) == {"kid", "key"}
    assert entry["kid"] == 'key "2026-03"'
    settings.TOKENKIT = {"ALGORITHM": "HS512", "SIGNING_KEYS": [entry]}
    assert checks.check_keys() == []
    raw, _ = tokens.encode("access", sub="1", sid="s", auth_time=NOW, expires_at=NOW + LEEWAY)
    assert tokens.decode(raw, "access").kid == 'key "2026-03"'


@pytest.mark.parametrize("kid", ["", "  "])
def test_generate_key_empty_kid_raises_command_error(kid: str) -> None:
    with pytest.raises(CommandError, match="--kid"):
        run("tokenkit_generate_key", "--kid", kid)


@pytest.mark.parametrize("algorithm", ["RS256", "ES256", "EdDSA"])
def test_generate_key_asymmetric_writes_0600_pem_pair_that_signs_and_verifies(
    settings: Any, tmp_path: Any, frozen: Any, algorithm: str
) -> None:
    entry = json.loads(
        run("tokenkit_generate_key", "--algorithm", algorithm, "--out", str(tmp_path))
    )

    private, public = tmp_path / f"{entry['kid']}.pem", tmp_path / f"{entry['kid']}.pub.pem"
    assert entry == {"kid": entry["kid"], "key": str(private), "algorithm": algorithm}
    assert (private.stat().st_mode & 0o777, public.stat().st_mode & 0o777) == (0o600, 0o600)
    assert "PRIVATE KEY" in private.read_text()
    assert "PUBLIC KEY" in public.read_text()
    settings.TOKENKIT = {"ALGORITHM": algorithm, "SIGNING_KEYS": [entry]}
    assert checks.check_keys() == []
    raw, _ = tokens.encode("access", sub="1", sid="s", auth_time=NOW, expires_at=NOW + LEEWAY)
    settings.TOKENKIT = {"ALGORITHM": algorithm, "SIGNING_KEYS": [entry, str(public)]}
    assert checks.check_keys()  # the same key twice: E007, so the kid is its thumbprint
    settings.TOKENKIT = {"ALGORITHM": algorithm, "SIGNING_KEYS": [entry]}
    assert tokens.decode(raw, "access").kid == entry["kid"]


def test_generate_key_asymmetric_given_kid_names_files_and_never_overwrites(
    tmp_path: Any,
) -> None:
    entry = json.loads(
        run(
            "tokenkit_generate_key",
            "--algorithm",
            "ES256",
            "--kid",
            "2026-11",
            "--out",
            str(tmp_path),
        )
    )
    first = (tmp_path / "2026-11.pem").read_text()

    with pytest.raises(CommandError, match="exists"):
        run(
            "tokenkit_generate_key",
            "--algorithm",
            "ES256",
            "--kid",
            "2026-11",
            "--out",
            str(tmp_path),
        )
    assert entry["kid"] == "2026-11"
    assert (tmp_path / "2026-11.pem").read_text() == first


@pytest.mark.parametrize("kid", ["../escape", ".hidden"])
def test_generate_key_asymmetric_kid_that_is_not_a_file_name_is_refused(
    tmp_path: Any, kid: str
) -> None:
    with pytest.raises(CommandError, match="--kid"):
        run("tokenkit_generate_key", "--algorithm", "EdDSA", "--kid", kid, "--out", str(tmp_path))
    assert list(tmp_path.iterdir()) == []


def test_generate_key_hs256_algorithm_prints_a_key_as_before() -> None:
    assert re.fullmatch(
        r"[A-Za-z0-9_-]{86}", run("tokenkit_generate_key", "--algorithm", "HS256").strip()
    )
