"""The estimated-count paginator: a total without ``COUNT(*)`` over a large table."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.core.paginator import Paginator
from django.db import connections
from django.db.models import QuerySet
from django.utils.functional import cached_property

if TYPE_CHECKING:
    _Paginator = Paginator[Any]
else:
    # Paginator is generic only in django-stubs; at run time it cannot be subscripted.
    _Paginator = Paginator


class EstimatedCountPaginator(_Paginator):
    """A paginator that does not count a large, unfiltered table row by row.

    On PostgreSQL ``COUNT(*)`` visits every row (MVCC keeps no exact row
    count), which on a million sessions costs more than the rest of the page
    together. So when the queryset has no filter at all, the table's row
    estimate from ``pg_class.reltuples`` (kept current by autovacuum's
    ANALYZE) is used as the count once it reaches :attr:`estimate_threshold`;
    the page then says "about N". Filtered querysets, small tables and other
    databases are counted exactly: a filter narrows the count, and an
    estimate would be wrong precisely there.
    """

    #: Below this many rows (by the estimate) an exact count is cheap enough.
    estimate_threshold = 100_000

    #: True once :attr:`count` returned an estimate rather than an exact count.
    is_estimate = False

    @cached_property
    def count(self) -> int:
        estimate = self._estimate()
        if estimate is not None and estimate >= self.estimate_threshold:
            self.is_estimate = True
            return estimate
        exact: int = super().count
        return exact

    def _estimate(self) -> int | None:
        queryset = self.object_list
        if not isinstance(queryset, QuerySet):
            return None
        query = queryset.query
        if (
            query.where
            or query.distinct
            or query.combinator
            or query.is_sliced
            or query.group_by is not None
        ):
            return None
        connection = connections[queryset.db]
        if connection.vendor != "postgresql":
            return None
        table = connection.ops.quote_name(queryset.model._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute("SELECT reltuples FROM pg_class WHERE oid = to_regclass(%s)", [table])
            row = cursor.fetchone()
        # -1 (PostgreSQL 14+) or 0 means "never analysed": count exactly instead.
        if row is None or row[0] is None or row[0] <= 0:
            return None
        return int(row[0])
