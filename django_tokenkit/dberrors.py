"""Telling a forgotten ``migrate`` apart from a database that is down.

Both are a ``DatabaseError`` and both are answered 503 (the client should
not log in again), but only one is fixed by waiting: a project that added
tokenkit and did not run ``migrate`` gets "no such table" (SQLite),
"relation ... does not exist" (PostgreSQL) or "Table ... doesn't exist"
(MySQL, MariaDB) for a ``tokenkit_*`` table. The log line then says "run
migrate", and so does the 503's body while ``DEBUG`` is on.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import DatabaseError

from django_tokenkit.exceptions import ServiceUnavailable

#: What the log line, and the body under DEBUG, say about a missing table.
RUN_MIGRATE = (
    "tokenkit's database tables are missing: run `python manage.py migrate` "
    "(the table it looked for starts with 'tokenkit_')."
)

_MISSING_TABLE_MARKERS = ("no such table", "does not exist", "doesn't exist")


def missing_table(error: BaseException | None) -> bool:
    """Whether ``error`` (or an exception it was raised from) is a missing tokenkit table."""
    seen = 0
    while error is not None and seen < 5:
        if isinstance(error, DatabaseError):
            text = str(error).lower()
            if "tokenkit_" in text and any(marker in text for marker in _MISSING_TABLE_MARKERS):
                return True
        error = error.__cause__ or error.__context__
        seen += 1
    return False


def unavailable(error: BaseException | None, logger: logging.Logger) -> ServiceUnavailable:
    """The 503 for a database failure; for a missing table, logged with "run migrate".

    The caller has logged the failure itself (with its traceback) already,
    or does so after; this adds the one line that says what to do.
    """
    if not missing_table(error):
        return ServiceUnavailable()
    logger.error("%s", RUN_MIGRATE)
    return ServiceUnavailable(RUN_MIGRATE if settings.DEBUG else None)
