"""Kline intervals as steps between open times, and the grid candles open on."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.common import names
from services.common.intervals import (
    IDS,
    MONTHLY,
    NoFixedStep,
    SeriesStep,
    first_open_at_or_after,
    kline_step_ms,
    last_open_at_or_before,
    next_open_time,
    previous_open_time,
)

MINUTE = 60_000
DAY = 1_440 * MINUTE


def test_every_interval_but_the_month_has_a_fixed_step() -> None:
    steps = {i: kline_step_ms(i) for i in names.KLINE_INTERVALS if i != "1M"}
    assert steps == {
        "1s": 1_000,
        "1m": MINUTE,
        "3m": 3 * MINUTE,
        "5m": 5 * MINUTE,
        "15m": 15 * MINUTE,
        "30m": 30 * MINUTE,
        "1h": 60 * MINUTE,
        "2h": 120 * MINUTE,
        "4h": 240 * MINUTE,
        "6h": 360 * MINUTE,
        "8h": 480 * MINUTE,
        "12h": 720 * MINUTE,
        "1d": DAY,
        "3d": 3 * DAY,
        "1w": 7 * DAY,
    }


def test_the_month_is_refused_naming_why() -> None:
    with pytest.raises(NoFixedStep, match="calendar months"):
        kline_step_ms("1M")
    with pytest.raises(ValueError, match="2m"):
        kline_step_ms("2m")


def test_open_times_round_onto_the_interval_grid() -> None:
    day = 1_660_435_200_000  # 2022-08-14 00:00 UTC, a Sunday
    assert first_open_at_or_after("1m", day) == day
    assert first_open_at_or_after("1m", day + 1) == day + MINUTE
    assert last_open_at_or_before("1m", day + MINUTE - 1) == day
    assert last_open_at_or_before("1h", day + 90 * MINUTE) == day + 60 * MINUTE
    # Weeks open on Mondays: the Monday after that Sunday, and the Monday before it.
    assert first_open_at_or_after("1w", day) == day + DAY
    assert last_open_at_or_before("1w", day) == day - 6 * DAY


def _ms(year: int, month: int, day: int = 1, hour: int = 0) -> int:
    return int(datetime(year, month, day, hour, tzinfo=UTC).timestamp()) * 1000


@pytest.mark.parametrize(
    ("open_ms", "following"),
    [
        (_ms(2024, 1, 1), _ms(2024, 2, 1)),  # 31 days
        (_ms(2024, 2, 1), _ms(2024, 3, 1)),  # 29 days: a leap year
        (_ms(2023, 2, 1), _ms(2023, 3, 1)),  # 28 days
        (_ms(2024, 4, 1), _ms(2024, 5, 1)),  # 30 days
        (_ms(2023, 12, 1), _ms(2024, 1, 1)),  # over a year's end
        (0, _ms(1970, 2, 1)),
    ],
)
def test_monthly_open_times_step_by_calendar_month_in_utc(open_ms: int, following: int) -> None:
    assert next_open_time("1M", open_ms) == following
    assert previous_open_time("1M", following) == open_ms
    assert MONTHLY.after(open_ms) == following and MONTHLY.before(following) == open_ms


def test_fixed_intervals_step_by_their_length() -> None:
    day = 1_660_435_200_000
    assert next_open_time("1m", day) == day + MINUTE
    assert previous_open_time("1w", day + DAY) == day - 6 * DAY
    assert SeriesStep.of_interval("1h") == SeriesStep(60 * MINUTE)


def test_monthly_open_times_round_onto_the_first_of_the_month() -> None:
    assert first_open_at_or_after("1M", _ms(2024, 2, 1)) == _ms(2024, 2, 1)
    assert first_open_at_or_after("1M", _ms(2024, 2, 1) + 1) == _ms(2024, 3, 1)
    assert first_open_at_or_after("1M", _ms(2024, 12, 31, 23)) == _ms(2025, 1, 1)
    assert last_open_at_or_before("1M", _ms(2024, 2, 29, 23)) == _ms(2024, 2, 1)
    assert last_open_at_or_before("1M", _ms(2024, 3, 1) - 1) == _ms(2024, 2, 1)


def test_series_steps_count_and_advance_ids_alike() -> None:
    assert IDS.count(10, 14) == 5 and IDS.count(3, 2) == 0 and IDS.advance(10, -3) == 7
    assert SeriesStep(MINUTE).count(0, 9 * MINUTE) == 10
    assert MONTHLY.count(_ms(2023, 11, 1), _ms(2024, 2, 1)) == 4
    assert MONTHLY.count(_ms(2024, 2, 1), _ms(2024, 1, 1)) == 0
    assert MONTHLY.advance(_ms(2024, 1, 1), 14) == _ms(2025, 3, 1)
    assert MONTHLY.advance(_ms(2024, 1, 1), -25) == _ms(2021, 12, 1)
    assert SeriesStep.of_interval("1M") is MONTHLY
