"""Kline intervals as steps between open times, and the grid candles open on."""

from __future__ import annotations

import pytest

from services.common import names
from services.common.intervals import (
    NoFixedStep,
    first_open_at_or_after,
    kline_step_ms,
    last_open_at_or_before,
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
