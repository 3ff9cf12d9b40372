"""Unit tests for services/storage/timescale_retention.py: retention lengths per kind turned
into TimescaleDB's drop_after per hypertable and continuous aggregate."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.storage.timescale_retention import RELATIONS, SHORTEST_KLINES, drop_after

DAY = timedelta(days=1)


def test_nothing_named_keeps_everything_forever() -> None:
    assert drop_after({}) == dict.fromkeys(RELATIONS)


def test_trades_and_agg_trades_expire_with_their_hypertables() -> None:
    plan = drop_after({"trade": 7 * DAY, "aggtrade": 30 * DAY})
    assert (plan["trades"], plan["agg_trades"], plan["klines"]) == (7 * DAY, 30 * DAY, None)


def test_hour_and_day_candles_expire_with_their_continuous_aggregates() -> None:
    plan = drop_after({"kline_1m": 365 * DAY, "kline_1h": None, "kline_1d": 3650 * DAY})
    assert plan["klines"] == 365 * DAY
    assert plan["klines_1h"] is None
    assert plan["klines_1d"] == 3650 * DAY


def test_the_klines_hypertable_keeps_the_longest_raw_interval_asked_for() -> None:
    assert drop_after({"kline_1m": 30 * DAY, "kline_5m": 90 * DAY})["klines"] == 90 * DAY
    assert drop_after({"kline_1m": 30 * DAY, "kline_5m": None})["klines"] is None


def test_ticker_history_is_left_to_the_storage_service() -> None:
    assert drop_after({"ticker": 7 * DAY}) == dict.fromkeys(RELATIONS)


def test_klines_shorter_than_the_aggregates_refresh_window_are_refused_by_name() -> None:
    with pytest.raises(ValueError, match=r"kline_1m.*at least 4d"):
        drop_after({"kline_1m": 2 * DAY})
    assert drop_after({"kline_1m": SHORTEST_KLINES})["klines"] == SHORTEST_KLINES
