"""The contenders: which authentication each one runs, and how to get it a token.

Pure data, no Django import, so the project's settings module can read it
before Django is set up. ``BENCH_CONTENDER`` in the environment picks one for
a server process; the authenticate() measurement switches between them in a
single process.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: ``Contender.revocation_lease`` of a contender that leaves ``REVOCATION_LEASE``
#: unset, so tokenkit's default applies: ``"auto"``, the lease on at 50 ms when
#: tokenkit's cache is Redis, off with the local-memory cache.
TOKENKIT_DEFAULT = "tokenkit's default"


@dataclass(frozen=True)
class Contender:
    """One way of authenticating ``GET /api/me/``."""

    name: str
    #: What the tables call it.
    label: str
    #: The DRF authentication class, or None for the floor (no authentication).
    authentication: str | None
    #: The ``Authorization`` scheme its tokens are sent with.
    scheme: str = "Bearer"
    #: How a token is minted: "tokenkit" (a session's access token),
    #: "tokenkit-api" (an API token), "simplejwt" or "knox" (None: the floor).
    issuer: str | None = None
    #: tokenkit's ``CACHE_ALIAS`` ("redis" or "locmem").
    cache_alias: str | None = None
    #: The refresh endpoint of the refresh race, or None when there is no refresh.
    refresh_path: str | None = None
    #: What it checks per request, for the tables.
    checks: str = ""
    #: tokenkit's ``REVOCATION_LEASE``: :data:`TOKENKIT_DEFAULT` leaves the
    #: setting out (tokenkit's default applies), a number of seconds sets it,
    #: None turns the lease off explicitly.
    revocation_lease: float | str | None = TOKENKIT_DEFAULT
    #: Authentication classes a server lists before ``authentication``, as the
    #: package's installation instructions have them; authenticate() (1.)
    #: calls ``authentication`` alone.
    before: tuple[str, ...] = ()
    #: The JWS algorithm its tokens are signed with (the keys: benchmarks/keys.py).
    algorithm: str = "HS256"
    #: Measured with tokens from logins made just before each round (batch),
    #: through its own server's login endpoint: the post-login window.
    post_login: bool = False
    #: Also measured end to end (2.). The first-sight rows are not: what they
    #: show is per call, and each server holds database connections.
    throughput: bool = True

    def tokenkit_overrides(self) -> dict[str, Any]:
        """What it sets in ``TOKENKIT`` beyond the project's settings: nothing for the default."""
        if self.revocation_lease == TOKENKIT_DEFAULT:
            return {}
        return {"REVOCATION_LEASE": self.revocation_lease}

    @property
    def token_source(self) -> str:
        """Which minted tokens it is sent: the issuer's, for its algorithm."""
        assert self.issuer is not None
        return self.issuer if self.algorithm == "HS256" else f"{self.issuer}-{self.algorithm}"


FLOOR = "none"
SIMPLEJWT = "simplejwt"
SIMPLEJWT_STATELESS = "simplejwt-stateless"
#: Not a package: the I/O floor of any design with one cache round trip.
REFERENCE = "reference-roundtrip"
KNOX = "knox"
#: tokenkit's API tokens, measured against knox (the opaque-token package).
TOKENKIT_API = "tokenkit-api-redis"
#: tokenkit with its defaults on Redis (the revocation lease on).
TOKENKIT_DEFAULT_REDIS = "tokenkit-redis"
#: The same, with the optional ``REVOCATION_LEASE = None``: a round trip per request.
TOKENKIT_NO_LEASE = "tokenkit-redis-no-lease"
#: The default configuration, with tokens from logins made just before measuring.
TOKENKIT_POST_LOGIN = "tokenkit-redis-post-login"

CONTENDERS: dict[str, Contender] = {
    contender.name: contender
    for contender in (
        Contender(
            name=FLOOR,
            label="no authentication (floor)",
            authentication=None,
            checks="nothing: the cost of Django, DRF and the view alone",
        ),
        Contender(
            name=SIMPLEJWT,
            label="simplejwt JWTAuthentication",
            authentication="rest_framework_simplejwt.authentication.JWTAuthentication",
            issuer="simplejwt",
            checks="signature, expiry; loads the user row (1 query)",
        ),
        Contender(
            name=SIMPLEJWT_STATELESS,
            label="simplejwt JWTStatelessUserAuthentication",
            authentication=(
                "rest_framework_simplejwt.authentication.JWTStatelessUserAuthentication"
            ),
            issuer="simplejwt",
            checks="signature, expiry only; no user, no revocation",
        ),
        Contender(
            name=REFERENCE,
            label="reference: simplejwt stateless + one Redis get_many",
            authentication="benchmarks.project.reference.StatelessPlusCacheRoundTrip",
            issuer="simplejwt",
            checks="as simplejwt-stateless, plus tokenkit's cache round trip (checks nothing)",
        ),
        Contender(
            name="simplejwt-blacklist",
            label="simplejwt + token_blacklist, rotation",
            authentication="rest_framework_simplejwt.authentication.JWTAuthentication",
            issuer="simplejwt",
            refresh_path="/simplejwt/token/refresh/",
            checks="as simplejwt (the blacklist covers refresh tokens only)",
        ),
        Contender(
            name=KNOX,
            label="knox TokenAuthentication",
            authentication="knox.auth.TokenAuthentication",
            scheme="Token",
            issuer="knox",
            checks="token digest and expiry in the database, with its user (2 queries)",
        ),
        Contender(
            name=TOKENKIT_DEFAULT_REDIS,
            label="tokenkit JWTAuthentication, Redis, defaults (revocation lease 50 ms)",
            authentication="django_tokenkit.authentication.JWTAuthentication",
            issuer="tokenkit",
            cache_alias="redis",
            refresh_path="/api/auth/token/refresh/",
            checks="signature, expiry, token/session/user revocation, active user; a session "
            "the process has resolved is answered from memory while the lease holds "
            "(revocations and user saves wait 50 ms to reach every process)",
        ),
        Contender(
            name=TOKENKIT_POST_LOGIN,
            label="tokenkit JWTAuthentication, Redis, defaults, tokens from logins just made",
            authentication="django_tokenkit.authentication.JWTAuthentication",
            issuer="tokenkit",
            cache_alias="redis",
            post_login=True,
            checks="as tokenkit-redis, within seconds of each user's login (which saves "
            "last_login): a session's first request in each process makes the cache round "
            "trip the lease then saves",
        ),
        Contender(
            name=TOKENKIT_NO_LEASE,
            label="tokenkit JWTAuthentication, Redis, REVOCATION_LEASE None",
            authentication="django_tokenkit.authentication.JWTAuthentication",
            issuer="tokenkit",
            cache_alias="redis",
            revocation_lease=None,
            checks="as tokenkit-redis, with the lease off: one Redis get_many per request "
            "(revocations and user saves return without waiting)",
        ),
        Contender(
            name=TOKENKIT_API,
            label="tokenkit APITokenAuthentication, Redis",
            authentication="django_tokenkit.authentication.APITokenAuthentication",
            # SPEC's installation lists both classes, JWTAuthentication first;
            # it hands a ``tkp_`` token on without looking further.
            before=("django_tokenkit.authentication.JWTAuthentication",),
            issuer="tokenkit-api",
            cache_alias="redis",
            checks="checksum (no I/O); token state (revoked, expired, rotated away) and the "
            "owner's cached copy, from the revocation lease's memory once the process has "
            "resolved the token (else one Redis get_many); active user; last use recorded at "
            "most once a minute per token",
        ),
        Contender(
            name="tokenkit-redis-first-sight",
            label="tokenkit JWTAuthentication, Redis, every token new to the process",
            authentication="benchmarks.project.reference.FirstSightJWTAuthentication",
            issuer="tokenkit",
            cache_alias="redis",
            # A token new to the process is new to the lease's memory too.
            revocation_lease=None,
            checks="as tokenkit-redis-no-lease, but the token is verified in full on every "
            "call (worst case: no request ever repeats a token in the same process)",
            throughput=False,
        ),
        Contender(
            name="tokenkit-locmem",
            label="tokenkit JWTAuthentication, local memory",
            authentication="django_tokenkit.authentication.JWTAuthentication",
            issuer="tokenkit",
            cache_alias="locmem",
            refresh_path="/api/auth/token/refresh/",
            checks="as tokenkit-redis-no-lease, per-process cache (tokenkit's default turns "
            "the lease off without Redis)",
        ),
    )
}

#: tokenkit and simplejwt with each asymmetric algorithm: steady state (tokenkit
#: remembers verified tokens), first sight (every call verifies the signature)
#: and simplejwt's stock JWTAuthentication with that algorithm's PEM keys.
for _algorithm in ("RS256", "ES256", "EdDSA"):
    _suffix = _algorithm.lower()
    for _contender in (
        Contender(
            name=f"tokenkit-redis-{_suffix}",
            label=f"tokenkit JWTAuthentication, Redis, {_algorithm}",
            authentication="django_tokenkit.authentication.JWTAuthentication",
            issuer="tokenkit",
            cache_alias="redis",
            algorithm=_algorithm,
            checks=f"as tokenkit-redis, tokens signed with {_algorithm} (key parsed once)",
        ),
        Contender(
            name=f"tokenkit-redis-first-sight-{_suffix}",
            label=f"tokenkit JWTAuthentication, Redis, {_algorithm}, every token new",
            authentication="benchmarks.project.reference.FirstSightJWTAuthentication",
            issuer="tokenkit",
            cache_alias="redis",
            algorithm=_algorithm,
            checks=f"as tokenkit-redis-{_suffix} with the lease off, the {_algorithm} "
            "signature verified and the cache asked on every call (worst case)",
            revocation_lease=None,
            throughput=False,
        ),
        Contender(
            name=f"simplejwt-{_suffix}",
            label=f"simplejwt JWTAuthentication, {_algorithm}",
            authentication=f"benchmarks.project.reference.SimpleJWT{_algorithm}Authentication",
            issuer="simplejwt",
            algorithm=_algorithm,
            checks=f"as simplejwt, with SIGNING_KEY/VERIFYING_KEY the {_algorithm} PEM keys",
        ),
    ):
        CONTENDERS[_contender.name] = _contender

#: The contenders of the refresh race (the others have no refresh, or the
#: same one as a contender listed here).
RACE_CONTENDERS = ("simplejwt-blacklist", TOKENKIT_DEFAULT_REDIS, "tokenkit-locmem")

#: Groups of contenders ``--contenders`` accepts by name. Every contender
#: measured end to end runs its own server for the whole measurement, each
#: holding up to 8 PostgreSQL connections (2 workers x 4 threads, persistent),
#: so all of them at once would pass PostgreSQL's default ``max_connections``
#: (100); each group stays within it. ``main`` is the default.
GROUPS: dict[str, tuple[str, ...]] = {
    "main": (
        FLOOR,
        SIMPLEJWT,
        SIMPLEJWT_STATELESS,
        REFERENCE,
        "simplejwt-blacklist",
        KNOX,
        TOKENKIT_DEFAULT_REDIS,
        TOKENKIT_POST_LOGIN,
        TOKENKIT_NO_LEASE,
        TOKENKIT_API,
        "tokenkit-locmem",
    ),
    "keys": (
        FLOOR,
        SIMPLEJWT,
        SIMPLEJWT_STATELESS,
        TOKENKIT_DEFAULT_REDIS,
        "tokenkit-redis-first-sight",
        *(
            f"{prefix}-{algorithm}"
            for algorithm in ("rs256", "es256", "eddsa")
            for prefix in ("tokenkit-redis", "tokenkit-redis-first-sight", "simplejwt")
        ),
    ),
}
