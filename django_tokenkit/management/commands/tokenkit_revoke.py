"""``manage.py tokenkit_revoke``: revoke a user's tokens, one session or one token.

``--user`` ends every session *and every API token* of the user (an
operator revoking a user, unlike logout-all, which ends logins only).

Every revocation goes through :mod:`django_tokenkit.services.revocation`, exactly as a
logout or an admin action does: the ``token_revoked`` signal fires and the
shared cache is updated, so the next request with an affected token gets
401 ``token_revoked`` on every server process.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_tokenkit import tokens
from django_tokenkit.management.lookups import find_user
from django_tokenkit.models import APIToken, IssuedToken, RevokeReason, Session
from django_tokenkit.services import revocation

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = (
        "Revoke tokens at once, on every server process: all sessions and API tokens of a "
        "user (--user), "
        "one session (--session) or one token on record (--jti). Running it again is "
        "harmless: it reports that there was nothing left to revoke."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        unit = parser.add_mutually_exclusive_group(required=True)
        unit.add_argument(
            "--user",
            metavar="USERNAME_OR_PK",
            help="Revoke every session and every API token of this user: a username, or else "
            "a primary key.",
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
        user = find_user(identifier)
        name = f"{user.get_username()} (pk {user.pk})"
        # The same sets the service revokes; checked first so a second run sends no signal.
        if (
            not Session.objects.filter(user=user).not_revoked().exists()
            and not APIToken.objects.filter(user=user).not_revoked().exists()
        ):
            self._say(f"User {name} has no unrevoked sessions or API tokens: already revoked.")
            return
        revoked = revocation.revoke_users_and_api_tokens([user.pk], reason)
        logger.info(
            "tokenkit_revoke: revoked %s sessions and %s API tokens of user %s",
            revoked.sessions,
            revoked.api_tokens,
            user.pk,
        )
        self._done(
            f"Revoked {_count(revoked.sessions, 'session')} and "
            f"{_count(revoked.api_tokens, 'API token')} of user {name}."
        )

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


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'s' if number != 1 else ''}"
