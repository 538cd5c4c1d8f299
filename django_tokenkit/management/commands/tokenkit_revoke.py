"""``manage.py tokenkit_revoke``: revoke a user's sessions, one session or one token.

Every revocation goes through :mod:`django_tokenkit.services.revocation`, exactly as a
logout or an admin action does: the ``token_revoked`` signal fires and the
shared cache is updated, so the next request with an affected token gets
401 ``token_revoked`` on every server process.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_tokenkit import tokens, users
from django_tokenkit.models import IssuedToken, RevokeReason, Session
from django_tokenkit.services import revocation

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = (
        "Revoke tokens at once, on every server process: all sessions of a user (--user), "
        "one session (--session) or one token on record (--jti). Running it again is "
        "harmless: it reports that there was nothing left to revoke."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        unit = parser.add_mutually_exclusive_group(required=True)
        unit.add_argument(
            "--user",
            metavar="USERNAME_OR_PK",
            help="Revoke every session of this user: a username, or else a primary key.",
        )
        unit.add_argument(
            "--session", metavar="SID", help="Revoke this session (the sid claim, a UUID)."
        )
        unit.add_argument(
            "--jti",
            help="Revoke this one token: a refresh token, or the access token issued with one "
            "(its session stays usable). Write --jti=ID: a token id may begin with '-'.",
        )
        parser.add_argument(
            "--reason",
            choices=RevokeReason.values,
            default=RevokeReason.COMMAND,
            help="The reason recorded and sent with the token_revoked signal (default "
            "%(default)s), e.g. user_deactivated after deactivating users with a bulk "
            "update that bypassed tokenkit's signal receivers.",
        )

    verbosity = 1

    def handle(self, *args: Any, **options: Any) -> None:
        self.verbosity = options["verbosity"]
        reason: str = options["reason"]
        if options["user"] is not None:
            self._revoke_user(options["user"], reason)
        elif options["session"] is not None:
            self._revoke_session(options["session"], reason)
        else:
            self._revoke_jti(options["jti"], reason)

    def _revoke_user(self, identifier: str, reason: str) -> None:
        user = _find_user(identifier)
        name = f"{user.get_username()} (pk {user.pk})"
        # The same set revoke_user revokes; checked first so a second run sends no signal.
        if not Session.objects.filter(user=user).not_revoked().exists():
            self._say(f"User {name} has no unrevoked sessions: already revoked.")
            return
        count = revocation.revoke_user(user, reason)
        logger.info("tokenkit_revoke: revoked %s sessions of user %s", count, user.pk)
        self._done(f"Revoked {count} session{'s' if count != 1 else ''} of user {name}.")

    def _revoke_session(self, sid: str, reason: str) -> None:
        try:
            session_id = uuid.UUID(sid)
        except ValueError:
            raise CommandError(f"{sid!r} is not a session id (a UUID).") from None
        session = Session.objects.filter(pk=session_id).first()
        if session is None:
            raise CommandError(f"No session {session_id}: mistyped, or flushed after it ended.")
        if not revocation.revoke_session_id(session.sid, reason):
            self._say(f"Session {session.sid} was already revoked.")
            return
        logger.info("tokenkit_revoke: revoked session %s of user %s", session.sid, session.user_id)
        self._done(f"Revoked session {session.sid} of user pk {session.user_id}.")

    def _revoke_jti(self, jti: str, reason: str) -> None:
        if not tokens.is_well_formed_jti(jti):
            raise CommandError(
                f"{jti!r} is not a token id: tokenkit's are 1 to {tokens.JTI_MAX_LENGTH} "
                "letters, digits, '-' and '_' (the jti claim)."
            )
        try:
            revoked = revocation.revoke_jti(jti, reason)
        except IssuedToken.DoesNotExist:
            raise CommandError(
                f"No token {jti!r} is on record. tokenkit records refresh tokens and the "
                "access tokens issued with them; an access token renewed by sliding "
                "expiration is not, so revoke its session with --session instead. A token "
                "whose record was flushed has expired and needs no revocation."
            ) from None
        if not revoked:
            self._say(f"Token {jti} was already revoked.")
            return
        logger.info("tokenkit_revoke: revoked token %s", jti)
        self._done(f"Revoked token {jti}.")

    def _say(self, message: str) -> None:
        if self.verbosity >= 1:
            self.stdout.write(message)

    def _done(self, message: str) -> None:
        if self.verbosity >= 1:
            self.stdout.write(self.style.SUCCESS(message))


def _find_user(identifier: str) -> AbstractBaseUser:
    """The user whose username is ``identifier``, or else whose primary key it is."""
    if "\x00" in identifier:
        # No username or key has one, and PostgreSQL refuses it in a query.
        raise CommandError(f"No user with username or primary key {identifier!r}.")
    manager = get_user_model()._default_manager
    user: AbstractBaseUser | None = manager.filter(
        **{get_user_model().USERNAME_FIELD: identifier}
    ).first()
    if user is None:
        pk = users.coerce_pk(identifier)
        user = manager.filter(pk=pk).first() if pk is not None else None
    if user is None:
        raise CommandError(f"No user with username or primary key {identifier!r}.")
    return user
