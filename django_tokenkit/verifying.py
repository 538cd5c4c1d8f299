"""What a verifying service needs: its issuer's published keys, and a user without a database.

A second service trusts the tokens an issuer (a tokenkit deployment) signs,
without holding its private key: it fetches the issuer's JWKS
(``TOKENKIT['JWKS_URL']``) and verifies with the public keys in it.
:class:`~django_tokenkit.authentication.JWKSAuthentication` is the DRF door;
this module holds the two things it stands on.

:class:`JWKSClient` keeps the issuer's keys in memory. PyJWT's own
``PyJWKClient`` was the first choice, but it keeps a key set for a fixed
``lifespan`` whatever the issuer's ``Cache-Control`` says, refetches on
every unknown ``kid`` (a client sending invented ids makes the service
hammer the issuer), and forgets every key when a refetch fails. This one
honours ``max-age``, refetches on an unknown ``kid`` at most once per
``JWKS_MIN_REFETCH_INTERVAL``, and keeps the keys it has while the issuer
cannot be reached. Keys are parsed from their JWKs once, by
:func:`django_tokenkit.keys.key_from_jwk`; PyJWT verifies with them.

:class:`TokenUser` is ``request.user`` on the verifying service: the token's
``sub`` and claims, no database row (the users live with the issuer).
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import urllib.request
from collections.abc import Callable
from typing import Any

from django.core.signals import setting_changed

from django_tokenkit import keys
from django_tokenkit.conf import SOURCE_SETTINGS, tokenkit_settings
from django_tokenkit.exceptions import ServiceUnavailable
from django_tokenkit.keys import Key
from django_tokenkit.tokens import Token

logger = logging.getLogger(__name__)

#: Seconds to wait for the issuer's JWKS.
FETCH_TIMEOUT = 5.0
#: The largest JWKS read, in bytes: a few keys take a few kilobytes.
MAX_JWKS_BYTES = 256 * 1024
_MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*\"?(\d+)\"?\s*(?:,|$)", re.IGNORECASE)
_NO_CACHE = re.compile(r"(?:^|,)\s*(?:no-store|no-cache)\s*(?:,|$)", re.IGNORECASE)


def max_age_of(cache_control: str | None, default: float) -> float:
    """Seconds ``cache_control`` lets a response be kept (RFC 9111 section 5.2.2).

    ``no-store`` and ``no-cache`` mean 0; without ``max-age``, ``default``.
    """
    if not cache_control:
        return default
    if _NO_CACHE.search(cache_control):
        return 0.0
    match = _MAX_AGE.search(cache_control)
    return float(match.group(1)) if match else default


class JWKSClient:
    """An issuer's public keys, fetched from ``url`` and kept as its ``max-age`` says.

    Thread-safe; one fetch at a time. ``clock`` is ``time.monotonic`` but for
    tests. Raises :class:`~django_tokenkit.exceptions.ServiceUnavailable`
    (503) only when no key has ever been fetched and the issuer cannot be
    reached: with keys in hand, a failed refetch keeps them.
    """

    def __init__(
        self,
        url: str,
        *,
        min_refetch_interval: float,
        default_max_age: float,
        timeout: float = FETCH_TIMEOUT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self.min_refetch_interval = min_refetch_interval
        self.default_max_age = default_max_age
        self.timeout = timeout
        self.clock = clock
        self._keys: list[Key] | None = None
        self._fresh_until = 0.0
        self._last_attempt: float | None = None
        self._lock = threading.Lock()
        #: How many fetches were attempted (for tests and the docs' claims).
        self.fetches = 0

    def keys_for(self, kid: str | None) -> list[Key]:
        """The keys that may verify a token whose header carries ``kid``."""
        now = self.clock()
        current = self._keys
        if current is not None and now < self._fresh_until:
            matching = keys.verification_keys(current, kid)
            if matching or kid is None or not self._may_fetch(now):
                return matching
        with self._lock:
            now = self.clock()
            current = self._keys
            stale = current is None or now >= self._fresh_until
            unknown = current is not None and not keys.verification_keys(current, kid)
            if (stale or unknown) and self._may_fetch(now):
                self._fetch(now)
            current = self._keys
        if current is None:
            raise ServiceUnavailable("The token issuer's keys could not be fetched.")
        return keys.verification_keys(current, kid)

    def _may_fetch(self, now: float) -> bool:
        return self._last_attempt is None or now - self._last_attempt >= self.min_refetch_interval

    def _fetch(self, now: float) -> None:
        """Replace the keys with the issuer's current set; keep them if that fails."""
        self._last_attempt = now
        self.fetches += 1
        try:
            request = urllib.request.Request(self.url, headers={"Accept": "application/json"})
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                body = response.read(MAX_JWKS_BYTES + 1)
                cache_control = response.headers.get("Cache-Control")
            if len(body) > MAX_JWKS_BYTES:
                raise ValueError("the JWKS is too large")
            document = json.loads(body)
            published = document.get("keys") if isinstance(document, dict) else None
            if not isinstance(published, list):
                raise ValueError("the document has no 'keys' list")
        except (OSError, ValueError) as error:  # URLError, HTTPError, timeouts, bad JSON
            kept = "keeping the keys fetched before" if self._keys else "no keys yet"
            logger.warning(
                "tokenkit could not fetch the JWKS at %s (%s); %s.", self.url, error, kept
            )
            return
        loaded: list[Key] = []
        for jwk in published:
            try:
                loaded.append(keys.key_from_jwk(jwk))
            except (ValueError, TypeError) as error:
                logger.warning("tokenkit skipped a JWK from %s: %s", self.url, error)
        self._keys = loaded
        self._fresh_until = now + max_age_of(cache_control, self.default_max_age)


_client: JWKSClient | None = None
_client_lock = threading.Lock()


def get_client() -> JWKSClient:
    """The process's client for ``TOKENKIT['JWKS_URL']``; a new one after ``setting_changed``."""
    global _client
    client = _client
    if client is not None:
        return client
    url = tokenkit_settings.jwks_url
    if url is None:
        raise ServiceUnavailable("TOKENKIT['JWKS_URL'] is not set.")
    with _client_lock:
        if _client is None:
            _client = JWKSClient(
                url,
                min_refetch_interval=tokenkit_settings.jwks_min_refetch_interval.total_seconds(),
                default_max_age=tokenkit_settings.jwks_max_age.total_seconds(),
            )
        return _client


def forget_client() -> None:
    """Drop the process's client and the keys it holds."""
    global _client
    _client = None


def _forget_on_setting_change(*, setting: str, **kwargs: Any) -> None:
    if setting in SOURCE_SETTINGS:
        forget_client()


setting_changed.connect(_forget_on_setting_change, dispatch_uid="django_tokenkit.verifying")


class TokenUser:
    """``request.user`` of a verifying service: the token's subject, with no database row.

    ``id`` and ``pk`` are the token's ``sub`` (a string: the issuer's user
    id). It is authenticated and active and holds no permissions; subclass
    :class:`~django_tokenkit.authentication.JWKSAuthentication` and override
    ``get_user`` to map ``sub`` to a local user instead.
    """

    is_active = True
    is_staff = False
    is_superuser = False
    is_anonymous = False
    is_authenticated = True

    def __init__(self, token: Token) -> None:
        self.token = token
        self.id = self.pk = token.sub

    def __str__(self) -> str:
        return f"TokenUser {self.id}"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TokenUser) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)

    def get_username(self) -> str:
        return str(self.token.get("username", ""))

    @property
    def username(self) -> str:
        return self.get_username()

    def has_perm(self, perm: str, obj: object = None) -> bool:
        return False

    def has_perms(self, perm_list: object, obj: object = None) -> bool:
        return False

    def has_module_perms(self, module: str) -> bool:
        return False
