"""The user behind a token, served from the shared cache.

Authentication needs the user on every request; reading its row each time
is most of the cost of a JWT check. tokenkit keeps a pickled copy in the
shared cache, fetched in the same round trip as the revocation state, and
invalidates it from the user model's ``post_save``/``post_delete`` signals
(see :mod:`django_tokenkit.receivers`).

A save writes a short-lived tombstone at once, and once it has committed
replaces it with the row as committed (:func:`refresh`), so the user's next
requests are answered from the cache again straight away: logging in (which
saves ``last_login``) costs the requests after it nothing. Fills use
``add``: a request that read the row just before a change cannot put the old
copy back over the tombstone or the fresh copy. A copy lives at most
:data:`USER_CACHE_TIMEOUT` seconds, which bounds staleness after changes
that bypass signals (``QuerySet.update()``, raw SQL).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import DatabaseError, transaction

from django_tokenkit import lease
from django_tokenkit.cache import cache_key, get_cache, warn_cache_unavailable
from django_tokenkit.exceptions import TokenInvalid, TokenRevoked
from django_tokenkit.tokens import Token

USER_CACHE_TIMEOUT = 300
TOMBSTONE = "x"
TOMBSTONE_TIMEOUT = 10


def user_key(pk: object) -> str:
    return cache_key("user", str(pk))


def coerce_pk(sub: str) -> Any:
    """The ``sub`` claim as a primary key value, or None when it cannot be one."""
    field = get_user_model()._meta.pk
    assert field is not None
    try:
        return field.to_python(sub)
    except Exception:  # ValidationError, ValueError, TypeError: all mean "not a pk"
        return None


def user_for_token(token: Token, found: Mapping[str, Any] | None = None) -> AbstractBaseUser:
    """The active user ``token`` names, from ``found`` (a cache fetch) or the database.

    Raises ``TokenRevoked`` when the user no longer exists or is inactive
    (deactivation is a revocation source, SPEC section 6) and
    ``TokenInvalid`` when ``sub`` cannot be a primary key.
    """
    pk = coerce_pk(token.sub)
    if pk is None:
        raise TokenInvalid("Token has a malformed 'sub' claim.")
    return user_for_pk(pk, found)


def user_for_pk(pk: Any, found: Mapping[str, Any] | None = None) -> AbstractBaseUser:
    """The active user with primary key ``pk``, from ``found`` or the database.

    Raises ``TokenRevoked`` when the user no longer exists or is inactive.
    """
    user_model = get_user_model()
    key = user_key(pk)
    cached = (found or {}).get(key)
    if isinstance(cached, user_model) and cached.pk == pk:
        user: AbstractBaseUser = cached
    else:
        try:
            user = user_model._default_manager.get(pk=pk)
        except user_model.DoesNotExist:
            raise TokenRevoked("User no longer exists.") from None
        if cached != TOMBSTONE:
            _cache_add(key, user)
    if not getattr(user, "is_active", True):
        raise TokenRevoked("User is inactive.")
    return user


def _cache_add(key: str, user: AbstractBaseUser) -> None:
    try:
        get_cache().add(key, user, timeout=USER_CACHE_TIMEOUT)
    except Exception as error:  # the cache backend's connection error
        warn_cache_unavailable("user cache fill", error)


def forget(pk: object) -> None:
    """Drop the cached copy of user ``pk`` everywhere; called when the row changes.

    The tombstone goes in at once; the revocation lease's announcement waits
    for the commit, because a process that reads the row before then still
    sees the old one and must drop what it kept of it afterwards.
    """
    try:
        get_cache().set(user_key(pk), TOMBSTONE, timeout=TOMBSTONE_TIMEOUT)
    except Exception as error:
        warn_cache_unavailable("user cache invalidation", error)
        return
    transaction.on_commit(lambda: lease.announce([user_key(pk)]))


def refresh(pk: object, *, urgent: bool = True) -> None:
    """Replace the cached copy of user ``pk`` with the row as committed now.

    Called once a save has committed, in place of letting the tombstone of
    :func:`forget` lapse: without it every request of that user would read
    the row for :data:`TOMBSTONE_TIMEOUT` seconds, which after a login (it
    saves ``last_login``) is every request a new session makes. ``set``, not
    ``add``: the committed row wins over anything a reader put there. The
    revocation lease's announcement follows the write, so no process keeps an
    older copy in memory; it waits the lease only when ``urgent`` (see
    :func:`forget_then_refresh`). A failure leaves the tombstone to lapse as
    before.
    """
    user_model = get_user_model()
    try:
        user = user_model._default_manager.filter(pk=pk).first()
    except DatabaseError:
        return
    key = user_key(pk)
    try:
        if user is None:
            get_cache().set(key, TOMBSTONE, timeout=TOMBSTONE_TIMEOUT)
        else:
            get_cache().set(key, user, timeout=USER_CACHE_TIMEOUT)
    except Exception as error:  # the cache backend's connection error
        warn_cache_unavailable("user cache refresh", error)
    lease.announce([key], wait=urgent)


def forget_then_refresh(pk: object, *, urgent: bool = True) -> None:
    """On a save: tombstone the copy now, put the committed row back after commit.

    The tombstone covers the moment between the save and its commit (and a
    rollback); the refresh ends it as soon as the change is visible to every
    process. The lease's announcement comes with the refresh; it waits the
    lease, so that the next request anywhere sees the saved row, unless the
    save is not ``urgent`` (only ``last_login`` changed: a login must not
    pay the lease).
    """
    try:
        get_cache().set(user_key(pk), TOMBSTONE, timeout=TOMBSTONE_TIMEOUT)
    except Exception as error:
        warn_cache_unavailable("user cache invalidation", error)
    transaction.on_commit(lambda: refresh(pk, urgent=urgent))
