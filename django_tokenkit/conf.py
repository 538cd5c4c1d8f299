"""The typed, lazy view of the ``TOKENKIT`` settings dict.

Each property is computed on first use and kept: authentication reads a dozen
of them per request, and resolving them from ``settings.TOKENKIT`` every time
was a measurable share of its cost. Django's ``setting_changed`` signal (sent
by ``override_settings`` and pytest-django's ``settings`` fixture) drops the
kept values, as DRF does for its own settings, so a changed setting takes
effect at once. Validation lives in :mod:`django_tokenkit.checks`; the properties
only normalise (seconds to ``timedelta``, strings to key entries) and raise
``ImproperlyConfigured`` for a value no code path could use, so a server that
skipped the system checks (gunicorn does not run them) still fails with a
named setting instead of an obscure error deep in a request.
"""

from __future__ import annotations

from datetime import timedelta
from functools import cached_property
from typing import Any, Literal, cast

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed

from django_tokenkit.keys import Key, get_algorithm, key_problems, load_key_entries, load_keys

SameSite = Literal["Lax", "Strict", "None"]
SAMESITE_VALUES = ("Lax", "Strict", "None")

#: Every key ``TOKENKIT`` accepts, with its default. Durations may be given
#: as ``timedelta`` or as a number of seconds.
DEFAULTS: dict[str, Any] = {
    "ALGORITHM": "HS256",
    # None: sign with settings.SECRET_KEY. Otherwise a list whose first entry
    # signs and whose other entries only verify; an entry is a string or a
    # dict {"kid": str, "key": str}.
    "SIGNING_KEYS": None,
    # Cache-Control max-age of the JWKS endpoint (and, in a verifying service,
    # how long a JWKS served without max-age is kept).
    "JWKS_MAX_AGE": timedelta(hours=1),
    # A verifying service (JWKSAuthentication): the issuer's JWKS URL.
    "JWKS_URL": None,
    # The least time between two fetches of JWKS_URL, however many unknown kids arrive.
    "JWKS_MIN_REFETCH_INTERVAL": timedelta(seconds=60),
    # A verifying service sharing the issuer's cache refuses what it sees revoked there.
    "JWKS_CHECK_REVOCATION": False,
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=15),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=7),
    "SLIDING_THRESHOLD": timedelta(minutes=5),
    "SESSION_MAX_LIFETIME": timedelta(days=30),
    "SESSION_IDLE_TIMEOUT": None,
    "REFRESH_GRACE_PERIOD": timedelta(seconds=30),
    "LEEWAY": timedelta(seconds=30),
    "ISSUER": None,
    "AUDIENCE": None,
    "ROTATE_REFRESH_TOKENS": True,
    "AUTH_HEADER_TYPES": ("Bearer",),
    "WWW_AUTHENTICATE_REALM": "api",
    "MAX_TOKEN_LENGTH": 4096,
    "CACHE_ALIAS": "default",
    "CACHE_KEY_PREFIX": "tokenkit",
    "LOGIN_THROTTLE_RATE": "10/min",
    "REVOKE_ON_PASSWORD_CHANGE": True,
    # Refresh token in an HttpOnly cookie instead of the JSON body.
    "REFRESH_COOKIE": False,
    "REFRESH_COOKIE_NAME": "tokenkit_refresh",
    "REFRESH_COOKIE_SECURE": True,
    "REFRESH_COOKIE_SAMESITE": "Lax",
    # None: the common prefix of the refresh and logout URLs.
    "REFRESH_COOKIE_PATH": None,
    "REFRESH_COOKIE_DOMAIN": None,
    # "auto": DEFAULT_REVOCATION_LEASE when the tokenkit cache is Redis, off
    # otherwise. None: off, every request asks the shared cache. A duration:
    # that lease (it needs Redis). See lease.py.
    "REVOCATION_LEASE": "auto",
    # How often each process reads the revocation outbox at the least (outbox.py).
    "REVOCATION_OUTBOX_INTERVAL": timedelta(seconds=1),
    # API tokens for scripts and jobs (SPEC section 6).
    # Scope name -> description; a token may carry any of these names.
    "API_TOKEN_SCOPES": {},
    # None: "never expires" may be chosen. Otherwise the longest lifetime allowed.
    "API_TOKEN_MAX_LIFETIME": None,
    # None: no limit on a user's active API tokens.
    "API_TOKEN_LIMIT_PER_USER": None,
    # last_used_at and the last IP are written at most this often per token.
    "API_TOKEN_LAST_USED_INTERVAL": timedelta(seconds=60),
    # How long before expiry `tokenkit_api_token notify` warns, once each.
    "API_TOKEN_EXPIRY_WARNINGS": (timedelta(days=7), timedelta(days=1)),
    "API_TOKEN_REVOKE_ON_PASSWORD_CHANGE": False,
    # None, or the dotted path of a callable(user) -> dict of extra access-token claims.
    "CUSTOM_CLAIMS": None,
    # Accept simplejwt's tokens while clients switch (services/transition.py).
    "SIMPLEJWT_TRANSITION": False,
}

#: ``REVOCATION_LEASE``'s default: on, at :data:`DEFAULT_REVOCATION_LEASE`, when
#: the tokenkit cache is Redis (docs/benchmarks.rst has the measurements that
#: made it the default), off with any other cache.
AUTO = "auto"
#: The lease "auto" turns on: each revocation and user save waits this long.
DEFAULT_REVOCATION_LEASE = timedelta(milliseconds=50)

#: What to do about a weak key: the system check's hint and the run-time error say the same.
SHORT_KEY_HINT = (
    "Generate a key with `python manage.py tokenkit_generate_key` and put it first in "
    "TOKENKIT['SIGNING_KEYS'] (keep a previous key after it until the tokens it signed "
    "have expired)."
)

DURATION_KEYS = frozenset(
    {
        "ACCESS_TOKEN_LIFETIME",
        "REFRESH_TOKEN_LIFETIME",
        "SLIDING_THRESHOLD",
        "SESSION_MAX_LIFETIME",
        "SESSION_IDLE_TIMEOUT",
        "REFRESH_GRACE_PERIOD",
        "LEEWAY",
        "JWKS_MAX_AGE",
        "JWKS_MIN_REFETCH_INTERVAL",
        "REVOCATION_LEASE",
        "REVOCATION_OUTBOX_INTERVAL",
        "API_TOKEN_MAX_LIFETIME",
        "API_TOKEN_LAST_USED_INTERVAL",
    }
)


def user_settings() -> dict[str, Any]:
    """Return the raw ``TOKENKIT`` dict (empty when unset)."""
    value = getattr(settings, "TOKENKIT", None)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ImproperlyConfigured("TOKENKIT must be a dict.")
    return value


def to_timedelta(name: str, value: object) -> timedelta:
    """Normalise a duration given as ``timedelta`` or seconds."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return timedelta(seconds=value)
        except (ValueError, OverflowError):
            pass  # NaN, infinity, or beyond timedelta's range
    raise ImproperlyConfigured(
        f"TOKENKIT[{name!r}] must be a timedelta or a number of seconds, not {value!r}."
    )


class TokenkitSettings:
    """Typed accessors over ``settings.TOKENKIT`` with the SPEC's defaults."""

    def get(self, name: str) -> Any:
        """Return the configured value of ``name`` or its default."""
        if name not in DEFAULTS:
            raise AttributeError(f"Unknown tokenkit setting {name!r}.")
        return user_settings().get(name, DEFAULTS[name])

    def reload(self) -> None:
        """Forget every kept value; the next read resolves it again."""
        vars(self).clear()  # the instance holds nothing but cached_property values

    def _duration(self, name: str) -> timedelta:
        return to_timedelta(name, self.get(name))

    def _optional_duration(self, name: str) -> timedelta | None:
        value = self.get(name)
        return None if value is None else to_timedelta(name, value)

    @cached_property
    def algorithm(self) -> str:
        return str(self.get("ALGORITHM"))

    @cached_property
    def signing_keys(self) -> list[Key]:
        """The configured keys, parsed once, first one signing; SECRET_KEY when unset.

        Raises ``ImproperlyConfigured`` for a key the system checks would
        refuse (see :func:`django_tokenkit.keys.load_keys`).
        """
        value = self.get("SIGNING_KEYS")
        algorithm = get_algorithm(self.get("ALGORITHM"))
        if value is None and algorithm is not None and algorithm.asymmetric:
            raise ImproperlyConfigured(
                f"TOKENKIT['ALGORITHM'] is {algorithm.name}, which needs SIGNING_KEYS (PEM keys)."
            )
        entries = load_key_entries(value, default_key=settings.SECRET_KEY)
        loaded = load_keys(entries, self.get("ALGORITHM"))
        # A short HMAC key signs, but weakly: refused here as tokenkit.E004
        # reports it, since servers such as gunicorn never run the checks.
        hmac = algorithm is not None and not algorithm.asymmetric
        problems = key_problems(algorithm, entries) if hmac and algorithm else []
        if algorithm is not None and problems:
            source = "SECRET_KEY" if value is None else "SIGNING_KEYS"
            described = "; ".join(f"key {label} {problem}" for label, problem in problems)
            raise ImproperlyConfigured(
                f"tokenkit refuses to use the {algorithm.name} keys from {source}: "
                f"{described}. {SHORT_KEY_HINT}"
            )
        return loaded

    @cached_property
    def jwks_max_age(self) -> timedelta:
        return self._duration("JWKS_MAX_AGE")

    @cached_property
    def jwks_url(self) -> str | None:
        value = self.get("JWKS_URL")
        return None if value is None else str(value)

    @cached_property
    def jwks_min_refetch_interval(self) -> timedelta:
        return self._duration("JWKS_MIN_REFETCH_INTERVAL")

    @cached_property
    def jwks_check_revocation(self) -> bool:
        return bool(self.get("JWKS_CHECK_REVOCATION"))

    @cached_property
    def simplejwt_transition(self) -> bool:
        return bool(self.get("SIMPLEJWT_TRANSITION"))

    @cached_property
    def custom_claims(self) -> str | None:
        """The dotted path of the custom-claims callable, or None."""
        value = self.get("CUSTOM_CLAIMS")
        if value is not None and not isinstance(value, str):
            raise ImproperlyConfigured(
                "TOKENKIT['CUSTOM_CLAIMS'] must be None or the dotted path of a callable."
            )
        return value

    @cached_property
    def access_token_lifetime(self) -> timedelta:
        return self._duration("ACCESS_TOKEN_LIFETIME")

    @cached_property
    def refresh_token_lifetime(self) -> timedelta:
        return self._duration("REFRESH_TOKEN_LIFETIME")

    @cached_property
    def sliding_threshold(self) -> timedelta:
        return self._duration("SLIDING_THRESHOLD")

    @cached_property
    def session_max_lifetime(self) -> timedelta:
        return self._duration("SESSION_MAX_LIFETIME")

    @cached_property
    def session_idle_timeout(self) -> timedelta | None:
        return self._optional_duration("SESSION_IDLE_TIMEOUT")

    @cached_property
    def refresh_grace_period(self) -> timedelta:
        return self._duration("REFRESH_GRACE_PERIOD")

    @cached_property
    def leeway(self) -> timedelta:
        return self._duration("LEEWAY")

    @cached_property
    def revocation_lease(self) -> timedelta | None:
        """The lease in force, or None when it is off.

        ``"auto"`` (the default) resolves to :data:`DEFAULT_REVOCATION_LEASE`
        when the tokenkit cache reaches Redis through a single redis-py
        client (either Redis backend), and to None otherwise: the local-memory
        cache of development, a sharded django-redis client, a Memcached.
        """
        if self.get("REVOCATION_LEASE") == AUTO:
            from django_tokenkit.cache import redis_client  # cache.py imports this module

            try:
                reachable = redis_client(write=True, alias=self.cache_alias) is not None
            except Exception:  # no such cache alias: check tokenkit.E006 says so
                reachable = False
            return DEFAULT_REVOCATION_LEASE if reachable else None
        return self._optional_duration("REVOCATION_LEASE")

    @cached_property
    def revocation_outbox_interval(self) -> timedelta:
        return self._duration("REVOCATION_OUTBOX_INTERVAL")

    @cached_property
    def api_token_scopes(self) -> dict[str, str]:
        value = self.get("API_TOKEN_SCOPES")
        if not isinstance(value, dict):
            raise ImproperlyConfigured("TOKENKIT['API_TOKEN_SCOPES'] must be a dict.")
        return {str(name): str(description) for name, description in value.items()}

    @cached_property
    def api_token_max_lifetime(self) -> timedelta | None:
        return self._optional_duration("API_TOKEN_MAX_LIFETIME")

    @cached_property
    def api_token_limit_per_user(self) -> int | None:
        value = self.get("API_TOKEN_LIMIT_PER_USER")
        return None if value is None else int(value)

    @cached_property
    def api_token_last_used_interval(self) -> timedelta:
        return self._duration("API_TOKEN_LAST_USED_INTERVAL")

    @cached_property
    def api_token_expiry_warnings(self) -> tuple[timedelta, ...]:
        """The thresholds, longest first."""
        value = self.get("API_TOKEN_EXPIRY_WARNINGS")
        if not isinstance(value, (list, tuple)):
            raise ImproperlyConfigured(
                "TOKENKIT['API_TOKEN_EXPIRY_WARNINGS'] must be a list of durations."
            )
        durations = [to_timedelta("API_TOKEN_EXPIRY_WARNINGS", item) for item in value]
        return tuple(sorted(set(durations), reverse=True))

    @cached_property
    def api_token_revoke_on_password_change(self) -> bool:
        return bool(self.get("API_TOKEN_REVOKE_ON_PASSWORD_CHANGE"))

    @cached_property
    def issuer(self) -> str | None:
        value = self.get("ISSUER")
        return None if value is None else str(value)

    @cached_property
    def audience(self) -> str | None:
        value = self.get("AUDIENCE")
        return None if value is None else str(value)

    @cached_property
    def rotate_refresh_tokens(self) -> bool:
        return bool(self.get("ROTATE_REFRESH_TOKENS"))

    @cached_property
    def auth_header_types(self) -> tuple[str, ...]:
        value = self.get("AUTH_HEADER_TYPES")
        items = (value,) if isinstance(value, str) else value
        if (
            not isinstance(items, (list, tuple))
            or not items
            or not all(isinstance(item, str) and item for item in items)
        ):
            raise ImproperlyConfigured(
                "TOKENKIT['AUTH_HEADER_TYPES'] must be a non-empty list of strings."
            )
        return tuple(items)

    @cached_property
    def www_authenticate_realm(self) -> str:
        return str(self.get("WWW_AUTHENTICATE_REALM"))

    @cached_property
    def max_token_length(self) -> int:
        value = self.get("MAX_TOKEN_LENGTH")
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ImproperlyConfigured("TOKENKIT['MAX_TOKEN_LENGTH'] must be a positive integer.")
        return value

    @cached_property
    def cache_alias(self) -> str:
        return str(self.get("CACHE_ALIAS"))

    @cached_property
    def cache_key_prefix(self) -> str:
        return str(self.get("CACHE_KEY_PREFIX"))

    @cached_property
    def login_throttle_rate(self) -> str | None:
        value = self.get("LOGIN_THROTTLE_RATE")
        return None if value is None else str(value)

    @cached_property
    def revoke_on_password_change(self) -> bool:
        return bool(self.get("REVOKE_ON_PASSWORD_CHANGE"))

    @cached_property
    def refresh_cookie(self) -> bool:
        return bool(self.get("REFRESH_COOKIE"))

    @cached_property
    def refresh_cookie_name(self) -> str:
        return str(self.get("REFRESH_COOKIE_NAME"))

    @cached_property
    def refresh_cookie_secure(self) -> bool:
        return bool(self.get("REFRESH_COOKIE_SECURE"))

    @cached_property
    def refresh_cookie_samesite(self) -> SameSite:
        value = self.get("REFRESH_COOKIE_SAMESITE")
        if value not in SAMESITE_VALUES:
            raise ImproperlyConfigured(
                "TOKENKIT['REFRESH_COOKIE_SAMESITE'] must be 'Lax', 'Strict' or 'None'."
            )
        return cast(SameSite, value)

    @cached_property
    def refresh_cookie_path(self) -> str | None:
        value = self.get("REFRESH_COOKIE_PATH")
        return None if value is None else str(value)

    @cached_property
    def refresh_cookie_domain(self) -> str | None:
        value = self.get("REFRESH_COOKIE_DOMAIN")
        return None if value is None else str(value)


tokenkit_settings = TokenkitSettings()

#: The settings a kept value may derive from (SIGNING_KEYS defaults to SECRET_KEY,
#: REVOCATION_LEASE to what the cache is).
SOURCE_SETTINGS = frozenset({"TOKENKIT", "SECRET_KEY", "CACHES"})


def _reload_on_change(*, setting: str, **kwargs: Any) -> None:
    if setting in SOURCE_SETTINGS:
        tokenkit_settings.reload()


setting_changed.connect(_reload_on_change, dispatch_uid="django_tokenkit.conf.reload")
