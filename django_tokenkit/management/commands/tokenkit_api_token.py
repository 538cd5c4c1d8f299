"""``manage.py tokenkit_api_token``: create, list, revoke and rotate API tokens; send warnings.

Every write goes through :mod:`django_tokenkit.services.api_tokens`, as the
endpoints and the admin do. A new token (``create``, ``rotate``) is the
only thing written to stdout, once, so ``TOKEN=$(manage.py tokenkit_api_token
create ...)`` captures exactly the secret; everything said about it goes to
stderr. ``list`` never prints a secret (there is none to print: only the
digest is stored). ``notify`` is meant for cron, every few minutes, on as
many machines as you like: each warning is sent once.
"""

from __future__ import annotations

import logging
import re
import uuid
from datetime import datetime, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from django_tokenkit.management.lookups import find_user
from django_tokenkit.models import APIToken, RevokeReason
from django_tokenkit.services import api_tokens

logger = logging.getLogger(__name__)

_DURATION = re.compile(r"(\d{1,9})([smhdw]?)")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: str, option: str) -> timedelta:
    """``90d``, ``12h``, ``30m``, ``45s``, ``2w`` or plain seconds (``3600``).

    Raises ``CommandError`` naming ``option`` for anything else.
    """
    match = _DURATION.fullmatch(value.strip())
    if match is None:
        raise CommandError(
            f"{option} {value!r} is not a duration: write a number of seconds (3600) or a "
            "number with a unit: s, m, h, d or w (12h, 90d)."
        )
    return timedelta(seconds=int(match[1]) * _UNITS[match[2]])


def parse_id(value: str) -> uuid.UUID:
    """An API token's id (a UUID), or a ``CommandError`` before any query."""
    try:
        return uuid.UUID(value)
    except ValueError:
        raise CommandError(f"{value!r} is not an API token id (a UUID).") from None


def _when(moment: datetime | None, never: str = "never") -> str:
    return never if moment is None else moment.strftime("%Y-%m-%d %H:%M UTC")


class Command(BaseCommand):
    help = (
        "Manage API tokens: create (prints the token once, to stdout), list (never prints "
        "tokens), revoke, rotate (prints the new token once), and notify (for cron: sends "
        "each expiry warning once)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="subcommand", metavar="SUBCOMMAND", required=True)

        create = sub.add_parser("create", help="Create a token; prints it once, to stdout.")
        create.add_argument("--user", required=True, help="Username, or else primary key.")
        create.add_argument("--name", required=True, help="What uses it, e.g. 'nightly export'.")
        self._add_lifetime(create, required=True)
        create.add_argument(
            "--scope",
            action="append",
            default=[],
            dest="scopes",
            help="A scope of API_TOKEN_SCOPES (repeat for several; none: the user's full rights).",
        )

        listing = sub.add_parser("list", help="List tokens (hint, status, expiry; never secrets).")
        listing.add_argument("--user", help="Only this user's (username, or else primary key).")
        listing.add_argument(
            "--all", action="store_true", help="Include revoked and expired tokens."
        )

        revoke = sub.add_parser("revoke", help="Revoke tokens by id; harmless to repeat.")
        revoke.add_argument("ids", nargs="+", metavar="ID")

        rotate = sub.add_parser("rotate", help="Replace a token; prints the new one once.")
        rotate.add_argument("id", metavar="ID")
        rotate.add_argument(
            "--grace",
            default="0",
            help="How long the old token keeps working (default 0; at most 24h), e.g. 1h.",
        )
        self._add_lifetime(rotate, required=False)

        sub.add_parser("notify", help="Send the due expiry warnings (for cron); each once.")

    @staticmethod
    def _add_lifetime(parser: CommandParser, *, required: bool) -> None:
        lifetime = parser.add_mutually_exclusive_group(required=required)
        lifetime.add_argument(
            "--expires-in",
            metavar="DURATION",
            help="Lifetime: seconds (3600) or with a unit s/m/h/d/w (12h, 90d).",
        )
        lifetime.add_argument(
            "--never", action="store_true", help="The token never expires (explicitly)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        handler = getattr(self, f"_{options['subcommand']}")
        handler(options)

    # -- subcommands

    def _create(self, options: dict[str, Any]) -> None:
        user = find_user(options["user"])
        try:
            issued = api_tokens.create(
                user,
                name=options["name"],
                expires_in=self._lifetime(options),
                scopes=options["scopes"],
            )
        except api_tokens.APITokenError as error:
            raise CommandError(error.detail) from None
        record = issued.record
        self.stderr.write(
            f"Created API token {record.name!r} ({record.hint}, id {record.pk}) for user "
            f"{user.get_username()}; {self._expiry_phrase(record)}. It is printed once, "
            "below (stdout): store it now, it cannot be shown again."
        )
        self.stdout.write(issued.token)

    def _list(self, options: dict[str, Any]) -> None:
        tokens = APIToken.objects.select_related("user").order_by("-created_at")
        if options["user"] is not None:
            tokens = tokens.filter(user=find_user(options["user"]))
        if not options["all"]:
            tokens = tokens.active()
        now = timezone.now()
        count = 0
        for record in tokens.iterator():
            count += 1
            self.stdout.write(
                "\t".join(
                    [
                        str(record.pk),
                        record.user.get_username(),
                        record.name,
                        record.hint,
                        ",".join(record.scopes or []) or "-",
                        record.status(now),
                        f"expires {_when(record.expires_at, 'NEVER')}",
                        f"last used {_when(record.last_used_at)}",
                    ]
                )
            )
        self.stderr.write(f"{count} API token{'s' if count != 1 else ''}.")

    def _revoke(self, options: dict[str, Any]) -> None:
        ids = [parse_id(value) for value in options["ids"]]
        found = {record.pk: record for record in APIToken.objects.filter(pk__in=ids)}
        missing = [str(pk) for pk in ids if pk not in found]
        if missing:
            raise CommandError(f"No API token with id {', '.join(missing)}; nothing was revoked.")
        already = [record for record in found.values() if record.revoked_at is not None]
        count = api_tokens.revoke(found.values(), RevokeReason.COMMAND)
        for record in already:
            self.stdout.write(f"API token {record.pk} ({record.name!r}) was already revoked.")
        if count:
            logger.info("tokenkit_api_token: revoked %d API token(s)", count)
            self.stdout.write(
                self.style.SUCCESS(
                    f"Revoked {count} API token{'s' if count != 1 else ''}: "
                    "refused on the next request, on every server."
                )
            )

    def _rotate(self, options: dict[str, Any]) -> None:
        pk = parse_id(options["id"])
        grace = parse_duration(options["grace"], "--grace")
        record = APIToken.objects.filter(pk=pk).first()
        if record is None:
            raise CommandError(f"No API token with id {pk}.")
        lifetime: Any = api_tokens.UNSET
        if options["never"] or options["expires_in"] is not None:
            lifetime = self._lifetime(options)
        try:
            issued = api_tokens.rotate(record, grace=grace, expires_in=lifetime)
        except api_tokens.APITokenNotRotatable:
            raise CommandError(
                f"API token {pk} cannot be rotated: it is revoked, expired or was already rotated."
            ) from None
        except api_tokens.APITokenError as error:
            raise CommandError(error.detail) from None
        new = issued.record
        self.stderr.write(
            f"Rotated API token {record.name!r}: the old one ({record.hint}) stops working "
            f"{'now' if not grace else 'at the end of its grace period'}; the new one "
            f"({new.hint}, id {new.pk}) {self._expiry_phrase(new)}. It is printed once, "
            "below (stdout): store it now."
        )
        self.stdout.write(issued.token)

    def _notify(self, options: dict[str, Any]) -> None:
        sent = api_tokens.send_expiry_warnings()
        for warning in sent:
            record = warning.token
            self.stdout.write(
                f"Warned {record.user.get_username()}: API token {record.pk} "
                f"({record.name!r}, {record.hint}) expires {_when(record.expires_at)} "
                f"(threshold {_duration_text(warning.threshold)})."
            )
        self.stdout.write(f"Sent {len(sent)} expiry warning{'s' if len(sent) != 1 else ''}.")

    # -- helpers

    @staticmethod
    def _lifetime(options: dict[str, Any]) -> timedelta | None:
        if options["never"]:
            return None
        return parse_duration(options["expires_in"], "--expires-in")

    @staticmethod
    def _expiry_phrase(record: APIToken) -> str:
        if record.expires_at is None:
            return "it NEVER expires"
        return f"it expires {_when(record.expires_at)}"


def _duration_text(duration: timedelta) -> str:
    seconds = int(duration.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
