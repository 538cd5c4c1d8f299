"""Every system check id of tokenkit, in one registry.

A check builds its message only through its :class:`CheckId`, so an id
cannot be used without being registered here with what it means;
docs/settings.rst must describe each one (the docs build and the tests read
:data:`REGISTRY`). The checks themselves are :mod:`django_tokenkit.checks`.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.checks import CheckMessage, Error, Warning


@dataclass(frozen=True)
class CheckId:
    """One tokenkit check id and what it means; the only way a check builds a message.

    The level follows the id: ``tokenkit.Ennn`` is an error, ``tokenkit.Wnnn``
    a warning. Every instance is in :data:`REGISTRY`, which the tests and the
    docs build read (docs/settings.rst must describe each id).
    """

    id: str
    title: str

    @property
    def is_warning(self) -> bool:
        return self.id.startswith("tokenkit.W")

    def message(
        self, msg: str, *, hint: str | None = None, obj: str = "settings.TOKENKIT"
    ) -> CheckMessage:
        """A check message with this id, at this id's level."""
        level = Warning if self.is_warning else Error
        return level(msg, hint=hint, id=self.id, obj=obj)


#: Every check id, by id, in the order they were introduced.
REGISTRY: dict[str, CheckId] = {}


def _register(check_id: str, title: str) -> CheckId:
    if check_id in REGISTRY:
        raise ValueError(f"Check id {check_id} is registered twice.")
    REGISTRY[check_id] = entry = CheckId(check_id, title)
    return entry


UNKNOWN_SETTING = _register(
    "tokenkit.E001", "TOKENKIT is not a dict, or has a key tokenkit does not know"
)
BAD_VALUE = _register("tokenkit.E002", "a TOKENKIT value has the wrong type or form")
BAD_DURATION = _register(
    "tokenkit.E003", "a duration is not positive (or negative, where zero is allowed)"
)
SHORT_KEY = _register("tokenkit.E004", "an HMAC signing key is shorter than its algorithm's hash")
UNSUPPORTED_ALGORITHM = _register("tokenkit.E005", "ALGORITHM is not one tokenkit supports")
NO_SUCH_CACHE = _register("tokenkit.E006", "CACHE_ALIAS names no cache in CACHES")
DUPLICATE_KID = _register("tokenkit.E007", "two SIGNING_KEYS share a kid")
PER_PROCESS_CACHE = _register(
    "tokenkit.W001", "the cache is per-process (local-memory, dummy) while DEBUG is off"
)
INSECURE_SAMESITE = _register(
    "tokenkit.E008", "REFRESH_COOKIE_SAMESITE is 'None' while REFRESH_COOKIE_SECURE is off"
)
LONG_THRESHOLD = _register(
    "tokenkit.W002", "SLIDING_THRESHOLD is not shorter than ACCESS_TOKEN_LIFETIME"
)
NO_CSRF_MIDDLEWARE = _register(
    "tokenkit.W003", "the refresh cookie is on but CsrfViewMiddleware is not installed"
)
CORS_HIDES_HEADERS = _register(
    "tokenkit.W004", "CORS_EXPOSE_HEADERS is set but leaves out the sliding headers"
)
CLIENT_SIDE_CACHING = _register(
    "tokenkit.W005", "the tokenkit cache uses redis-py's client-side caching"
)
LEASE_NEEDS_REDIS = _register(
    "tokenkit.E009",
    "REVOCATION_LEASE is set but the tokenkit cache is not Redis "
    "(django-redis or Django's RedisCache)",
)
REDIS_REPLICAS = _register(
    "tokenkit.E010",
    "the tokenkit cache is Redis with several servers, so reads may go to a lagging replica",
)
PUBLIC_KEY_AS_SECRET = _register(
    "tokenkit.E011", "an HMAC key is a public or PEM key (anyone holding it could sign)"
)
WEAK_RSA_KEY = _register("tokenkit.E012", "an RS256 key has fewer than 2048 bits")
KEY_ALGORITHM_MISMATCH = _register(
    "tokenkit.E013", "a key is not of its algorithm's type (RSA, P-256, Ed25519)"
)
VERIFY_ONLY_SIGNING_KEY = _register(
    "tokenkit.E014", "the first SIGNING_KEYS entry, the one that signs, is a public key"
)
UNREADABLE_KEY = _register(
    "tokenkit.E015",
    "an asymmetric key is not unencrypted PEM text or a readable PEM file, or is missing",
)

#: The check id of each problem :func:`django_tokenkit.keys.inspect_keys` reports.
KEY_PROBLEM_IDS: dict[str, CheckId] = {
    "unsupported_algorithm": UNSUPPORTED_ALGORITHM,
    "short": SHORT_KEY,
    "public_as_secret": PUBLIC_KEY_AS_SECRET,
    "unreadable": UNREADABLE_KEY,
    "weak_rsa": WEAK_RSA_KEY,
    "mismatch": KEY_ALGORITHM_MISMATCH,
    "verify_only_first": VERIFY_ONLY_SIGNING_KEY,
    "duplicate_kid": DUPLICATE_KID,
}
NO_JWT_AUTHENTICATION = _register(
    "tokenkit.W006", "JWTAuthentication is not in REST_FRAMEWORK's DEFAULT_AUTHENTICATION_CLASSES"
)
NO_REST_FRAMEWORK = _register("tokenkit.E016", "'rest_framework' is not in INSTALLED_APPS")
NO_SIGNING_KEYS = _register(
    "tokenkit.W007", "check --deploy: SIGNING_KEYS is unset, so tokens are signed with SECRET_KEY"
)
BAD_CUSTOM_CLAIMS = _register(
    "tokenkit.E017",
    "CUSTOM_CLAIMS does not name a callable, or it returns reserved or non-JSON claims",
)
SIMPLEJWT_TRANSITION_ON = _register(
    "tokenkit.W008", "SIMPLEJWT_TRANSITION is on: simplejwt's tokens are still accepted"
)

#: The check ids, and what each one means. Documented in docs/settings.rst.
CHECK_IDS = {check_id: entry.title for check_id, entry in REGISTRY.items()}
