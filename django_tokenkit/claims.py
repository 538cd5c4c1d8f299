"""Custom claims: the ``CUSTOM_CLAIMS`` hook that adds an application's claims to tokens.

``TOKENKIT["CUSTOM_CLAIMS"]`` names a ``callable(user) -> dict``. It is
called once per login (and by :func:`django_tokenkit.api.issue_tokens`); its
claims go into the access token and the refresh token of that login, and
every token the session later gets, by refresh or by sliding renewal, carries
the same claims, read back from the token it replaces. So a grace-period
replay of a refresh signs byte for byte the pair the first refresh got, and
concurrent sliding renewals agree, without a database column or a second
call to the hook. The price: a claim changes when the user logs in again
(end their sessions with :func:`django_tokenkit.api.revoke_user` to force
it), as with simplejwt, whose refreshed access tokens copy the refresh
token's claims.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from django_tokenkit.conf import tokenkit_settings

if TYPE_CHECKING:  # importing it needs the app registry; docs/conf.py imports checks without
    from django.contrib.auth.base_user import AbstractBaseUser

#: Claims tokenkit sets itself; a custom claim may not use these names.
RESERVED_CLAIMS = frozenset(
    {"sub", "jti", "iat", "exp", "nbf", "sid", "auth_time", "token_type", "iss", "aud", "typ"}
)

HINT = (
    "Set TOKENKIT['CUSTOM_CLAIMS'] to the dotted path of a function such as "
    "'myproject.tokens.claims', defined as `def claims(user): return {...}`, returning a dict "
    "of JSON values whose names are none of: " + ", ".join(sorted(RESERVED_CLAIMS)) + "."
)


@lru_cache(maxsize=8)
def _import(path: str) -> Callable[[Any], Any] | str:
    """The hook at ``path``, or what is wrong with it."""
    try:
        hook = import_string(path)
    except ImportError as error:
        return f"{path!r} cannot be imported ({error})."
    if not callable(hook):
        return f"{path!r} is not callable."
    return hook  # type: ignore[no-any-return]  # import_string is typed Any


def result_problem(value: object) -> str | None:
    """What is wrong with a hook's return value, or None when it can be signed."""
    if not isinstance(value, Mapping):
        return f"must return a dict, not {type(value).__name__}."
    if not all(isinstance(name, str) for name in value):
        return "must return a dict with string keys."
    reserved = sorted(set(value) & RESERVED_CLAIMS)
    if reserved:
        return "returned the reserved claim(s) " + ", ".join(reserved) + "."
    try:
        json.dumps(dict(value))
    except (TypeError, ValueError):
        return "returned a value JSON cannot encode."
    return None


def for_user(user: AbstractBaseUser) -> dict[str, Any]:
    """The custom claims of ``user``'s new session: ``{}`` when no hook is configured.

    Raises ``ImproperlyConfigured`` when the hook cannot be imported or its
    result cannot go into a token (a reserved name, a non-JSON value): the
    same rule as check ``tokenkit.E017``, for servers that skipped the checks.
    """
    path = tokenkit_settings.custom_claims
    if path is None:
        return {}
    hook = _import(path)
    if isinstance(hook, str):
        raise ImproperlyConfigured(f"TOKENKIT['CUSTOM_CLAIMS'] {hook} {HINT}")
    value = hook(user)
    problem = result_problem(value)
    if problem is not None:
        raise ImproperlyConfigured(f"TOKENKIT['CUSTOM_CLAIMS'] {path!r} {problem} {HINT}")
    return dict(value)


def carried(claims: Mapping[str, Any]) -> dict[str, Any]:
    """The custom claims of a verified token: everything tokenkit does not set itself."""
    return {name: value for name, value in claims.items() if name not in RESERVED_CLAIMS}


def problem_with(path: str) -> str | None:
    """For the system check: why ``path`` cannot serve as the hook, or None.

    After importing it, the hook is tried on an unsaved instance of the user
    model. A hook that needs a saved user (a related query) raises there; the
    check then says nothing, and :func:`for_user` judges its first real result.
    """
    hook = _import(path)
    if isinstance(hook, str):
        return hook
    try:
        value = hook(get_user_model()())
    except Exception:  # the hook's own business; the run-time rule still applies
        return None
    problem = result_problem(value)
    return None if problem is None else f"{path!r} {problem}"
