"""Admin search that stays an index lookup: bounded words, users matched in their own table.

A ``LIKE`` on the session or token table, or an ``OR`` between ids and a
user match, would make PostgreSQL read the whole table; see
:meth:`~django_tokenkit.admin.options.RevocationAdmin.get_search_results`
for how the pieces here are put together.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist
from django.db.models import Q, QuerySet
from django.utils.text import smart_split, unescape_string_literal

#: The most words a search uses; the rest are ignored, and the page says so.
MAX_SEARCH_TERMS = 5
#: The most characters of a word a search uses: the longest email address
#: Django's ``EmailField`` stores.
MAX_SEARCH_TERM_LENGTH = 254


@dataclass(frozen=True)
class SearchTerms:
    """The words of a search, within :data:`MAX_SEARCH_TERMS` and :data:`MAX_SEARCH_TERM_LENGTH`."""

    words: tuple[str, ...]
    #: True when words were dropped or cut to fit the bounds.
    bounded: bool


def search_terms(search_term: str) -> SearchTerms:
    """The words of a search, quoted phrases kept whole, as Django's admin splits them.

    Only the first :data:`MAX_SEARCH_TERMS` different words are kept, each
    cut to :data:`MAX_SEARCH_TERM_LENGTH` characters: every word is one more
    condition for the database to plan, so an unbounded search could keep a
    worker busy for as long as the query string is long. NUL characters,
    which no stored username, email or id contains, are dropped.
    """
    words: list[str] = []
    bounded = False
    # smart_split is lazy: the words past the bound are never split out.
    for bit in smart_split(search_term.replace("\x00", "")):
        if bit.startswith(('"', "'")) and bit[0] == bit[-1]:
            bit = unescape_string_literal(bit)
        if len(bit) > MAX_SEARCH_TERM_LENGTH:
            bit = bit[:MAX_SEARCH_TERM_LENGTH]
            bounded = True
        if not bit or bit in words:
            continue  # a repeated word asks nothing more
        if len(words) == MAX_SEARCH_TERMS:
            bounded = True
            break
        words.append(bit)
    return SearchTerms(tuple(words), bounded)


def matching_users(terms: Sequence[str]) -> QuerySet[Any]:
    """Primary keys of users whose username or email contains every one of ``terms``.

    One subquery however many terms there are, each term one ``AND``-ed
    condition on the user table.
    """
    user_model = get_user_model()
    email_field = user_model.get_email_field_name()
    try:
        user_model._meta.get_field(email_field)
    except FieldDoesNotExist:
        fields = [user_model.USERNAME_FIELD]
    else:
        fields = list(dict.fromkeys([user_model.USERNAME_FIELD, email_field]))
    condition = Q()
    for term in terms:
        any_field = Q()
        for name in fields:
            any_field |= Q(**{f"{name}__icontains": term})
        condition &= any_field
    pks: QuerySet[Any] = user_model._default_manager.filter(condition).values("pk")
    return pks
