"""When the client renews a token: margins shorter than any lifetime, clocks translated."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from django_tokenkit.client.records import MalformedPair, TokenRecord


def pair(expires_in: float, refresh_expires_in: float = 7 * 86400) -> dict[str, object]:
    return {
        "access": "a",
        "refresh": "r",
        "token_type": "Bearer",
        "expires_in": expires_in,
        "refresh_expires_in": refresh_expires_in,
    }


@given(
    lifetime=st.floats(min_value=1, max_value=30 * 86400),
    now=st.floats(min_value=-1e9, max_value=1e10),
)
def test_record_margins_any_lifetime_refresh_after_receipt_and_before_expiry(
    lifetime: float, now: float
) -> None:
    record = TokenRecord.from_pair(pair(lifetime, lifetime * 10), now)

    # Never refreshing at once (a margin as long as the lifetime loops forever),
    # always before the token is gone, and background before blocking.
    assert now < record.early_at <= record.spent_at < record.access_expires_at
    assert record.access_expires_at <= now + lifetime


@pytest.mark.parametrize(
    ("expires_in", "early_after", "spent_after"),
    [
        (900, 839.0, 894.0),  # 15 min: background from 1 min before, blocking from 5 s
        (59, 43.5, 53.0),  # shorter than a fixed 60 s margin: still used for most of its life
        (4, 2.25, 2.7),
    ],
)
def test_record_margins_typical_lifetimes(
    expires_in: float, early_after: float, spent_after: float
) -> None:
    record = TokenRecord.from_pair(pair(expires_in), 1000.0)

    assert record.early_at - 1000.0 == pytest.approx(early_after)
    assert record.spent_at - 1000.0 == pytest.approx(spent_after)


def test_record_with_access_renewal_keeps_refresh_and_retimes_access() -> None:
    record = TokenRecord.from_pair(pair(900), 0.0)

    renewed = record.with_access("b", 900, 600.0)

    assert (renewed.access, renewed.refresh) == ("b", "r")
    assert renewed.access_expires_at == 1500.0
    assert renewed.refresh_expires_at == record.refresh_expires_at


def test_record_data_round_trip_between_skewed_clocks_keeps_time_left() -> None:
    writer_now, reader_now, reference_now = 10_000.0 + 3600, 10_000.0 - 3600, 10_000.0
    record = TokenRecord.from_pair(pair(900), writer_now)

    data = record.to_data(reference_now - writer_now)
    read = TokenRecord.from_data(data, reference_now - reader_now)

    assert read is not None
    assert read.access_expires_at - reader_now == record.access_expires_at - writer_now
    assert read.spent_at - reader_now == pytest.approx(record.spent_at - writer_now)


@pytest.mark.parametrize(
    "data",
    [{}, {"v": 2}, {"v": 1, "access": "a"}, {"v": 1, "access": 1, "refresh": "r"}, []],
)
def test_record_from_data_corrupt_entry_is_none(data: object) -> None:
    assert TokenRecord.from_data(data, 0.0) is None  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "body",
    [
        {"access": "a", "expires_in": 5, "refresh_expires_in": 5},  # refresh-cookie mode
        {"access": "a", "refresh": "r", "expires_in": "soon", "refresh_expires_in": 5},
        {"access": None, "refresh": "r", "expires_in": 5, "refresh_expires_in": 5},
    ],
)
def test_record_from_pair_not_a_pair_is_refused(body: dict[str, object]) -> None:
    with pytest.raises(MalformedPair):
        TokenRecord.from_pair(body, 0.0)
