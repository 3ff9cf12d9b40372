"""Candle bucketing and aggregation (services.common.candles), against Binance's own files."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from decimal import Decimal as D

import pytest

from services.common.candles import (
    Candle,
    aggregate,
    bucket_open,
    choose_source,
    covered_ms,
    divides,
    finer_sources,
    first_open_from,
    next_open,
    source_range,
)
from tests.vision_klines import USDM_1M, USDM_5M, candles


def ms(text: str) -> int:
    moment = datetime.fromisoformat(text).replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def day(text: str, price: str = "100", volume: str = "1") -> Candle:
    value = Decimal(price)
    return Candle(ms(text), value, value + 1, value - 1, value, Decimal(volume), value, 1)


def test_stored_1m_klines_aggregate_to_binances_own_5m_klines_of_the_day() -> None:
    ours = list(aggregate("5m", candles(USDM_1M)))
    binance = candles(USDM_5M)
    assert len(ours) == len(binance) == 288
    assert ours == binance  # Decimal equality: 43417.10 == 43417.1


def test_1m_and_5m_files_aggregate_to_the_same_hours_and_day() -> None:
    for interval, count in (("1h", 24), ("4h", 6), ("1d", 1)):
        from_minutes = list(aggregate(interval, candles(USDM_1M)))
        from_five = list(aggregate(interval, candles(USDM_5M)))
        assert from_minutes == from_five
        assert len(from_minutes) == count


def test_a_bucket_without_data_is_absent_and_a_partial_one_is_built_from_what_there_is() -> None:
    minutes = candles(USDM_1M)
    holed = [
        c for c in minutes if not ms("2022-04-08T01:00") <= c.open_time < ms("2022-04-08T01:07")
    ]
    five = list(aggregate("5m", holed))
    opens = [c.open_time for c in five]
    assert ms("2022-04-08T01:00") not in opens
    assert len(five) == 287
    partial = next(c for c in five if c.open_time == ms("2022-04-08T01:05"))
    first_left = next(c for c in holed if c.open_time == ms("2022-04-08T01:07"))
    assert partial.open == first_left.open
    assert partial.trades == sum(
        c.trades for c in holed if ms("2022-04-08T01:07") <= c.open_time < ms("2022-04-08T01:10")
    )


@pytest.mark.parametrize(
    ("moment", "week"),
    [
        ("2023-12-31T23:59:59.999", "2023-12-25"),  # a Sunday: the week began on Monday
        ("2024-01-01T00:00", "2024-01-01"),  # a Monday, and a new year
        ("2025-01-01T12:00", "2024-12-30"),  # a Wednesday: the week straddles the year
        ("1970-01-01T00:00", "1969-12-29"),  # the epoch was a Thursday
    ],
)
def test_weeks_open_on_monday_midnight_utc(moment: str, week: str) -> None:
    assert bucket_open("1w", ms(moment)) == ms(week)


@pytest.mark.parametrize(
    ("moment", "month", "following"),
    [
        ("2024-02-29T23:59:59.999", "2024-02-01", "2024-03-01"),  # leap day
        ("2023-02-28T23:59:59.999", "2023-02-01", "2023-03-01"),
        ("2023-12-31T23:59:59.999", "2023-12-01", "2024-01-01"),  # year end
        ("2024-01-01T00:00", "2024-01-01", "2024-02-01"),
        ("2024-07-31T12:00", "2024-07-01", "2024-08-01"),
    ],
)
def test_months_are_calendar_months_utc(moment: str, month: str, following: str) -> None:
    assert bucket_open("1M", ms(moment)) == ms(month)
    assert next_open("1M", ms(month)) == ms(following)


def test_weekly_and_monthly_candles_split_daily_ones_at_their_boundaries() -> None:
    days = [day(f"2023-12-{d:02d}", price=str(100 + d)) for d in range(25, 32)] + [
        day(f"2024-01-{d:02d}", price=str(200 + d)) for d in range(1, 9)
    ]
    weeks = list(aggregate("1w", days))
    assert [w.open_time for w in weeks] == [ms("2023-12-25"), ms("2024-01-01"), ms("2024-01-08")]
    assert (weeks[0].open, weeks[0].close, weeks[0].trades) == (D("125"), D("131"), 7)
    assert (weeks[1].open, weeks[1].close, weeks[1].high) == (D("201"), D("207"), D("208"))
    months = list(aggregate("1M", days))
    assert [m.open_time for m in months] == [ms("2023-12-01"), ms("2024-01-01")]
    assert (months[0].open, months[0].close, months[0].low) == (D("125"), D("131"), D("124"))
    assert (months[1].open, months[1].close, months[1].volume) == (D("201"), D("208"), D("8"))


def test_a_range_takes_the_candles_opening_in_it_each_one_whole() -> None:
    assert source_range("5m", ms("2022-04-08T00:07"), ms("2022-04-08T00:15")) == (
        ms("2022-04-08T00:10"),
        ms("2022-04-08T00:15"),
    )
    assert source_range("5m", ms("2022-04-08T00:05"), ms("2022-04-08T00:16")) == (
        ms("2022-04-08T00:05"),
        ms("2022-04-08T00:20"),  # the 00:15 candle opens before `to`: all of it
    )
    assert first_open_from("1M", ms("2024-01-15")) == ms("2024-02-01")
    assert first_open_from("1M", ms("2024-02-01")) == ms("2024-02-01")
    assert source_range("1w", ms("2024-01-01"), ms("2024-01-02")) == (
        ms("2024-01-01"),
        ms("2024-01-08"),
    )


@pytest.mark.parametrize(
    ("finer", "coarser", "expected"),
    [
        ("1m", "5m", True),
        ("3m", "5m", False),
        ("8h", "1d", True),
        ("1d", "1w", True),
        ("3d", "1w", False),
        ("1d", "3d", True),
        ("12h", "1M", True),
        ("1d", "1M", True),
        ("3d", "1M", False),
        ("1w", "1M", False),
        ("1M", "1M", True),
    ],
)
def test_an_interval_divides_another_when_its_candles_tile_it(
    finer: str, coarser: str, expected: bool
) -> None:
    assert divides(finer, coarser) is expected


def test_sources_are_the_interval_itself_then_finer_ones_coarsest_first() -> None:
    assert finer_sources("1h") == ["1h", "30m", "15m", "5m", "3m", "1m", "1s"]
    assert finer_sources("1w")[:3] == ["1w", "1d", "12h"]
    assert "3d" not in finer_sources("1w")


def test_the_source_is_the_stored_interval_covering_most_else_trades() -> None:
    hour, minute = 3_600_000, 60_000
    day_ms = 24 * hour
    assert choose_source("1h", {}) == "trade"
    assert choose_source("1h", {"1m": day_ms}) == "kline_1m"
    assert choose_source("1h", {"1h": day_ms, "1m": day_ms}) == "kline_1h"  # equal: fewest rows
    assert choose_source("1h", {"1h": 12 * hour, "1m": day_ms}) == "kline_1m"
    assert choose_source("1h", {"1h": day_ms, "1m": day_ms - minute}) == "kline_1h"


def test_coverage_runs_from_the_first_open_to_the_last_close() -> None:
    assert covered_ms("1m", ms("2022-04-08"), ms("2022-04-08T23:59")) == 86_400_000
    assert covered_ms("1M", ms("2024-01-01"), ms("2024-02-01")) == ms("2024-03-01") - ms(
        "2024-01-01"
    )
    year = covered_ms("1M", ms("2024-01-01"), ms("2024-12-01"))
    assert choose_source("1M", {"1M": year, "1d": year}) == "kline_1M"
    assert choose_source("1M", {"1M": year - 31 * 86_400_000, "1d": year}) == "kline_1d"
