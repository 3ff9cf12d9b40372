"""run.py (request + candles → result) and codec.py (its protobuf and JSON forms)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from quantflow.backtest.v1 import backtest_service_pb2 as pb
from services.backtest import codec, engine, run, strategies
from services.backtest.bars import Bars, Indicators
from services.common.errors import InvalidArgument
from tests.unit.backtest.market import random_walk, real_bars

MINUTE = 60_000


def _request(strategy: str = "sma_cross", **params: object) -> run.BacktestRequest:
    return run.BacktestRequest(
        "BTCUSDT", "1m", 0, 10**12, strategy, params or {"fast": 10, "slow": 30}
    )


def test_a_run_ends_where_the_engine_ends_on_the_same_bars() -> None:
    bars = real_bars("ETHUSDT-1m-2022-08-14")
    result = run.run_backtest(_request(), bars)
    sma = strategies.get("sma_cross")
    entries, exits = sma.signals(Indicators(bars), {"fast": 10, "slow": 30})
    direct = engine.simulate(bars, entries, exits)
    assert result.final_equity == direct.final_equity
    assert result.metrics.entries == direct.entries == len(result.trades)
    assert result.params == {"fast": 10, "slow": 30}
    assert result.equity_value[-1] == direct.equity[-1]
    assert result.data_quality == run.DataQuality(len(bars), 0)


def test_holes_are_the_missing_buckets_between_first_and_last() -> None:
    times = np.array([0, 1, 2, 5, 6, 9]) * MINUTE
    assert run.count_holes(times, "1m") == 4
    assert run.count_holes(times[:1], "1m") == 0
    months = np.array([1704067200000, 1709251200000])  # 2024-01-01, 2024-03-01
    assert run.count_holes(months, "1M") == 1


def test_the_equity_sample_keeps_first_and_last_and_at_most_the_points() -> None:
    assert run.equity_sample(5, 10).tolist() == [0, 1, 2, 3, 4]
    picked = run.equity_sample(100_001, 10_000)
    assert len(picked) <= 10_000 and picked[0] == 0 and picked[-1] == 100_000
    assert np.all(np.diff(picked) > 0)


def test_a_long_run_keeps_at_most_ten_thousand_equity_points() -> None:
    bars = random_walk(25_000, seed=3)
    result = run.run_backtest(_request(), bars)
    assert len(result.equity_time) == len(result.equity_value) <= run.MAX_EQUITY_POINTS
    assert result.equity_time[-1] == int(bars.time[-1])


def test_declarative_runs_the_condition_language() -> None:
    bars = random_walk(3_000, seed=5)
    result = run.run_backtest(
        _request(
            "declarative", entry="close crosses_above sma(20)", exit="close crosses_below sma(20)"
        ),
        bars,
    )
    close = bars.close
    sma = Indicators(bars).sma(20)
    entries = strategies.crosses_above(close, sma)
    exits = strategies.crosses_below(close, sma)
    assert result.final_equity == pytest.approx(
        engine.simulate(bars, entries, exits).final_equity, rel=1e-12
    )


@pytest.mark.parametrize(
    ("request_", "named"),
    [
        (_request("nope"), "nope"),
        (_request(fast=40, slow=20), "fast < slow"),
        (_request(fats=5), "fats"),
        (_request("declarative", entry="rsi(14) < 30"), "exit"),
        (_request("declarative", entry="rsi(14) <", exit="close > 1"), "entry"),
        (_request("declarative", entry=30, exit="close > 1"), "entry"),
        (_request("declarative", entry="price > 1", exit="close > 1"), "price"),
        (_request("declarative", entry="close > 1", exit="close > 1", speed=2), "speed"),
    ],
)
def test_bad_strategies_and_params_are_named(request_: run.BacktestRequest, named: str) -> None:
    with pytest.raises(InvalidArgument, match=named.replace("(", r"\(")):
        run.resolve(request_)


def test_an_unknown_strategy_lists_every_known_one_declarative_included() -> None:
    with pytest.raises(
        InvalidArgument, match=r"no strategy 'sma'; known: .*declarative.*sma_cross"
    ):
        run.resolve(_request("sma"))


def test_the_catalogue_lists_builtins_and_declarative_by_name() -> None:
    listed = run.catalogue()
    assert [s.name for s in listed] == sorted(s.name for s in listed)
    declarative = next(s for s in listed if s.name == run.DECLARATIVE)
    assert [(p.name, p.type) for p in declarative.params] == [
        ("entry", "string"),
        ("exit", "string"),
    ]
    assert codec.strategy_to_pb(declarative).params[0].default_json == '"rsi(14) < 30"'


def test_results_survive_json_and_protobuf() -> None:
    bars = random_walk(2_000, seed=7)
    request = run.BacktestRequest(
        "BTCUSDT", "1m", 0, 2_000 * MINUTE, "sma_cross", {"fast": 5, "slow": 40},
        engine.Settings(fill=engine.Fill.CLOSE, stop_loss=0.01),
    )  # fmt: skip
    result = run.run_backtest(request, bars, source="kline_1m")
    stored = json.loads(codec.dumps(codec.result_to_json(result)))
    back = codec.result_from_json(stored)
    assert back.metrics == result.metrics
    assert back.trades == result.trades
    assert back.equity_value == result.equity_value
    assert codec.request_from_json(json.loads(codec.dumps(codec.request_to_json(request)))) == (
        request
    )
    message = codec.result_to_pb(back, "id", request, 5)
    assert message.fill == pb.FILL_CLOSE
    assert message.metrics.final_equity == result.final_equity
    assert message.data_quality.source == "kline_1m"
    again = codec.request_from_pb(message.input)
    assert again.settings == request.settings
    assert again.params == {"fast": 5, "slow": 40}


def test_bars_parse_decimal_strings() -> None:
    bars = run.bars_from_columns([0, 60_000], ["1.5", "2"], ["2", "3"], ["1", "1.5"],
                                 ["1.75", "2.5"], ["10", "0"], "1m")  # fmt: skip
    assert isinstance(bars, Bars)
    assert bars.close.tolist() == [1.75, 2.5] and bars.interval_seconds == 60
