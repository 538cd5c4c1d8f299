"""Calls to the auth server that back off on passing failures and stop on real answers.

A passing failure is one that says nothing about the session: the network
(connection refused, reset, timeout), a 5xx, a 408 or 425, a 429. Those are
retried with exponential back-off, honouring ``Retry-After``, within the
:class:`~django_tokenkit.client.clock.Backoff` budget. A 200 or a 400, 401
or 403 is an answer about the credentials and is returned to the caller at
once: retrying a refused refresh token would only loop.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from django_tokenkit.client.clock import Backoff, retry_after_seconds
from django_tokenkit.client.errors import ServerUnavailable, UnexpectedResponse
from django_tokenkit.client.http import AuthEndpoints, AuthResponse, TransportError

logger = logging.getLogger(__name__)

#: Statuses worth retrying: the server, or the path to it, is passing through trouble.
PASSING_STATUSES = frozenset({408, 425, 429})
#: Answers about the credentials themselves, returned as they are.
ANSWERS = frozenset({200, 400, 401, 403})


def is_passing(status: int) -> bool:
    return status in PASSING_STATUSES or status >= 500


def post_with_backoff(
    endpoints: AuthEndpoints,
    path: str,
    payload: Mapping[str, Any],
    *,
    backoff: Backoff,
    what: str,
    on_attempt: Callable[[], object],
    on_early_failure: Callable[[float | None], object] | None = None,
) -> AuthResponse | None:
    """POST until an answer that is not a passing failure.

    With ``on_early_failure`` (a background call) one attempt is made: on a
    passing failure or an unexpected status it is called with the server's
    ``Retry-After`` (or None) and None is returned. Otherwise the call backs
    off within the budget, then raises :class:`ServerUnavailable`; an
    unexpected status (a 404: a wrong ``auth_url``) raises
    :class:`UnexpectedResponse`.
    """
    started = time.monotonic()
    attempt = 0
    while True:
        on_attempt()
        retry_after: float | None = None
        try:
            response = endpoints.request("POST", path, payload)
        except TransportError as error:
            failure = f"network error: {error}"
        else:
            if response.status in ANSWERS:
                return response
            if not is_passing(response.status):
                if on_early_failure is not None:
                    on_early_failure(None)
                    return None
                raise UnexpectedResponse(response.status, response.detail)
            failure = f"HTTP {response.status}"
            retry_after = retry_after_seconds(response.headers)
        if on_early_failure is not None:
            on_early_failure(retry_after)
            logger.info("tokenkit client: background %s failed (%s)", what, failure)
            return None
        delay = backoff.delay(attempt, retry_after)
        if time.monotonic() - started + delay > backoff.budget:
            raise ServerUnavailable(
                f"tokenkit {what} kept failing for {time.monotonic() - started:.0f}s "
                f"(last: {failure}); the session is kept, try again later",
                retry_after,
            )
        logger.warning("tokenkit client: %s failed (%s); retrying in %.2fs", what, failure, delay)
        time.sleep(delay)
        attempt += 1
