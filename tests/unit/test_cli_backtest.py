"""``quantflow backtest``'s argument parsing and its metrics table."""

from __future__ import annotations

import pytest

from quantflow.backtest.v1 import backtest_service_pb2 as pb
from services.cli.backtest import BacktestFailed, metrics_table, parse_params, parse_time


def test_params_are_numbers_when_they_read_as_numbers_else_strings() -> None:
    assert parse_params(["fast=10", "std=2.5", "entry=rsi(14) < 30"]) == {
        "fast": 10,
        "std": 2.5,
        "entry": "rsi(14) < 30",
    }
    with pytest.raises(BacktestFailed, match="NAME=VALUE"):
        parse_params(["fast"])


def test_times_are_utc_unless_they_say_otherwise() -> None:
    assert parse_time("2022-04-08", "--from") == 1649376000000
    assert parse_time("2022-04-08T02:00:00+02:00", "--from") == 1649376000000
    with pytest.raises(BacktestFailed, match="--to 'soon'"):
        parse_time("soon", "--to")


def test_the_table_shows_every_metric_and_a_dash_for_no_value() -> None:
    result = pb.BacktestResult(
        id="b1",
        input=pb.BacktestInput(
            symbol="BTCUSDT",
            interval="1m",
            from_ms=0,
            to_ms=60_000,
            strategy="sma_cross",
            venue="binance",
            cash=10_000,
        ),
        fill=pb.FILL_NEXT_OPEN,
        metrics=pb.Metrics(total_return=0.1234, final_equity=11_234, sharpe=1.5, trades=3),
        data_quality=pb.DataQuality(bars=1_440, holes=2, source="kline_1m"),
    )
    result.input.params.update({"slow": 30, "fast": 10})
    lines = metrics_table(result)
    assert lines[0].endswith("sma_cross fast=10 slow=30, fill NEXT_OPEN")
    text = "\n".join(lines)
    assert "total return       12.34%" in text
    assert "sharpe             1.5000" in text
    assert "profit factor      —" in text
    assert "1,440 bars, 2 holes (kline_1m)" in text
