"""Signal receivers that turn account changes into revocations (SPEC section 6).

A password change (when ``REVOKE_ON_PASSWORD_CHANGE`` is on, the default)
and a deactivation end every session of the user, and any change to a user
row replaces the copy of it that authentication keeps in the shared cache
once the change has committed.

They hook the user model's ``pre_save``/``post_save``, so changes made with
``QuerySet.update()`` or raw SQL bypass them, as they bypass every Django
signal: revoke with :func:`django_tokenkit.services.revocation.revoke_user` (or
``manage.py tokenkit_revoke --user``) after such bulk changes.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from django_tokenkit import users
from django_tokenkit.conf import tokenkit_settings
from django_tokenkit.models import RevokeReason
from django_tokenkit.services import api_tokens, revocation

_PENDING_ATTRIBUTE = "_tokenkit_pending_revocation"


def remember_credential_changes(sender: Any, instance: Any, **kwargs: Any) -> None:
    """``pre_save``: note whether this save changes the password or deactivates."""
    setattr(instance, _PENDING_ATTRIBUTE, None)
    if instance.pk is None or kwargs.get("raw"):
        return
    update_fields = kwargs.get("update_fields")
    watched = {"password", "is_active"}
    if update_fields is not None and not watched & set(update_fields):
        return  # e.g. update_last_login: no query needed
    stored = (
        sender._default_manager.using(kwargs.get("using"))
        .filter(pk=instance.pk)
        .values("password", "is_active")
        .first()
    )
    if stored is None:
        return
    if stored["is_active"] and not getattr(instance, "is_active", True):
        setattr(instance, _PENDING_ATTRIBUTE, RevokeReason.USER_DEACTIVATED)
    elif stored["password"] != getattr(
        instance, "password", stored["password"]
    ) and not _is_hash_upgrade(instance, update_fields):
        setattr(instance, _PENDING_ATTRIBUTE, RevokeReason.PASSWORD_CHANGE)


def _is_hash_upgrade(instance: Any, update_fields: Any) -> bool:
    """Whether this save only re-hashes the same password (a new hasher or work factor).

    Django's ``check_password`` does that at login: it calls ``set_password``
    with the password just verified, clears ``_password`` ("hash upgrades
    shouldn't be considered password changes") and saves only ``password``.
    A real change through ``set_password`` leaves ``_password`` set.
    """
    return (
        update_fields is not None
        and set(update_fields) == {"password"}
        and getattr(instance, "_password", None) is None
    )


def revoke_after_credential_change(sender: Any, instance: Any, **kwargs: Any) -> None:
    """``post_save``: revoke what ``pre_save`` noted, and forget the cached user."""
    if not kwargs.get("created"):
        # A brand-new row has no cached copy to replace.
        users.forget_then_refresh(instance.pk, urgent=_is_urgent(kwargs.get("update_fields")))
    reason = getattr(instance, _PENDING_ATTRIBUTE, None)
    if reason is None:
        return
    setattr(instance, _PENDING_ATTRIBUTE, None)
    transaction.on_commit(lambda: _revoke_for(instance, reason))


#: Fields a save may change without the revocation lease's wait: Django's
#: ``update_last_login`` (every login) saves ``update_fields=["last_login"]``.
NOT_URGENT_FIELDS = frozenset({"last_login"})


def _is_urgent(update_fields: Any) -> bool:
    """Whether every process must see this save by the time it returns.

    Only a save limited to :data:`NOT_URGENT_FIELDS` may reach them a moment
    later; any other field may be what an application's permissions read.
    """
    return update_fields is None or not set(update_fields) <= NOT_URGENT_FIELDS


def _revoke_for(user: Any, reason: str) -> None:
    """What a deactivation or a password change ends, by the settings.

    A deactivation ends everything: sessions and API tokens. A password
    change ends sessions (``REVOKE_ON_PASSWORD_CHANGE``, on by default) and
    API tokens only with ``API_TOKEN_REVOKE_ON_PASSWORD_CHANGE`` (off by
    default: a job's token is not a login, and a person changing their
    password must not break the nightly job; revoke tokens explicitly when
    an account is compromised).
    """
    deactivated = reason == RevokeReason.USER_DEACTIVATED
    if deactivated or tokenkit_settings.revoke_on_password_change:
        revocation.revoke_user(user, reason)
    if deactivated or tokenkit_settings.api_token_revoke_on_password_change:
        api_tokens.revoke_for_users([user.pk], reason)


def forget_deleted_user(sender: Any, instance: Any, **kwargs: Any) -> None:
    """``post_delete``: the user's sessions cascade away; drop the cached copy too."""
    users.forget(instance.pk)
