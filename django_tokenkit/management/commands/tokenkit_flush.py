"""``manage.py tokenkit_flush``: delete the sessions and token records nothing can use.

Like Django's ``clearsessions``, run it from cron or a systemd timer; unlike
it, it deletes in batches with a progress line per batch, so a first run over
millions of rows neither holds them in memory nor locks the tables for long.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_tokenkit.services import flush

DEFAULT_BATCH_SIZE = 5000


class Command(BaseCommand):
    help = (
        "Delete expired tokenkit records in batches: refresh-token records and blacklist "
        "entries past their expiry plus LEEWAY, sessions past their absolute cap, and "
        "revoked sessions none of whose tokens can still be presented. Never deletes "
        "anything that could still be used, so it is safe to run at any time and any "
        "number of times (e.g. daily from cron)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--batch-size",
            type=int,
            default=DEFAULT_BATCH_SIZE,
            help=f"Rows selected and deleted per transaction (default {DEFAULT_BATCH_SIZE}).",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Only count what would be deleted; delete nothing.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        batch_size: int = options["batch_size"]
        if batch_size < 1:
            raise CommandError("--batch-size must be a positive integer.")
        verbose = options["verbosity"] >= 1
        if options["dry_run"]:
            counts = flush.count_expired()
            if verbose:
                self.stdout.write(f"Dry run, nothing deleted. Would delete {_summary(counts)}.")
            return
        totals = dict.fromkeys(flush.FLUSH_KINDS, 0)
        for progress in flush.flush_expired(batch_size):
            totals[progress.kind] = progress.total
            if verbose:
                self.stdout.write(
                    f"{progress.kind}: deleted {progress.deleted} (total {progress.total})"
                )
                self.stdout.flush()
        if verbose:
            self.stdout.write(self.style.SUCCESS(f"Deleted {_summary(totals)}."))


def _summary(counts: dict[str, int]) -> str:
    return ", ".join(f"{count} {kind}" for kind, count in counts.items())
