"""graph/backtest.py without servers: the contract's names and defaults, and what a result
object answers (equity sampling, trade pages)."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import GraphQLInputObjectType, GraphQLObjectType, get_named_type

from graph.backtest import BacktestResult, result_from_pb
from graph.errors import TypedError
from graph.schema import schema
from quantflow.backtest.v1 import backtest_service_pb2 as pb


def _type(name: str) -> Any:
    found = schema._schema.get_type(name)
    assert found is not None, name
    return found


def test_the_contract_names_are_there() -> None:
    query = _type("Query").fields
    assert {"strategies", "backtest"} <= set(query)
    mutation = _type("Mutation").fields
    assert str(mutation["runBacktest"].type) == "BacktestResult!"
    assert str(mutation["runBacktest"].args["input"].type) == "BacktestInput!"
    strategy = get_named_type(query["strategies"].type)
    assert {"name", "description", "params"} <= set(strategy.fields)
    param = get_named_type(strategy.fields["params"].type)
    assert {"name", "type", "default", "min", "max", "description"} <= set(param.fields)

    given = _type("BacktestInput")
    assert isinstance(given, GraphQLInputObjectType)
    defaults = {name: field.default_value for name, field in given.fields.items()}
    assert {"symbol", "interval", "from", "to", "strategy", "params", "stopLoss", "takeProfit",
            "trailingStop"} <= set(defaults)  # fmt: skip
    assert (defaults["cash"], defaults["feeRate"], defaults["slippageBps"]) == (10_000, 0.001, 0)
    sdl = str(schema)
    assert "fill: Fill! = NEXT_OPEN" in sdl and "direction: Direction! = LONG_ONLY" in sdl
    assert defaults["positionSize"] == 1.0
    assert str(given.fields["from"].type) == "DateTime!"
    assert set(_type("Fill").values) == {"NEXT_OPEN", "CLOSE"}
    assert set(_type("Direction").values) == {"LONG_ONLY", "LONG_SHORT"}

    result = _type("BacktestResult")
    assert isinstance(result, GraphQLObjectType)
    assert {"id", "fill", "metrics", "equity", "tradeList", "dataQuality"} <= set(result.fields)
    assert set(result.fields["equity"].args) == {"points"}
    assert set(result.fields["tradeList"].args) == {"first", "after"}
    assert set(get_named_type(result.fields["equity"].type).fields) == {"time", "value"}
    assert set(get_named_type(result.fields["dataQuality"].type).fields) >= {"bars", "holes"}
    metrics = get_named_type(result.fields["metrics"].type).fields
    assert {"totalReturn", "cagr", "volatility", "sharpe", "sortino", "calmar", "maxDrawdown",
            "maxDrawdownDuration", "winRate", "profitFactor", "expectancy", "averageTrade",
            "trades", "entries", "exposure", "buyAndHoldReturn"} <= set(metrics)  # fmt: skip


def _result(points: int, trades: int) -> BacktestResult:
    message = pb.BacktestResult(
        id="r1",
        input=pb.BacktestInput(symbol="BTCUSDT", interval="1m", strategy="sma_cross"),
        fill=pb.FILL_CLOSE,
        metrics=pb.Metrics(total_return=0.5, sharpe=1.0),
        equity_time=[i * 60_000 for i in range(points)],
        equity_value=[float(i) for i in range(points)],
        trades=[pb.Trade(direction="LONG", entry_time_ms=i) for i in range(trades)],
    )
    return result_from_pb(message)


def test_equity_points_are_evenly_spaced_with_first_and_last() -> None:
    result = _result(1_001, 0)
    assert [p.value for p in result.equity(points=5)] == [0, 250, 500, 750, 1000]
    assert len(result.equity()) == 1_000  # the default
    assert [p.value for p in result.equity(points=1)] == [1000]
    with pytest.raises(TypedError, match="points: 0"):
        result.equity(points=0)


def test_trade_pages_follow_their_cursors() -> None:
    result = _result(1, 5)
    page = result.trade_list(first=2)
    assert [e.node.entry_time for e in page.edges] == [0, 1] and page.page_info.has_next_page
    page = result.trade_list(first=10, after=page.page_info.end_cursor)
    assert [e.node.entry_time for e in page.edges] == [2, 3, 4]
    assert not page.page_info.has_next_page and page.total_count == 5
    with pytest.raises(TypedError, match="not a trade cursor"):
        result.trade_list(after="nope")
    assert result.fill.value == "CLOSE" and result.metrics.cagr is None


async def test_run_backtest_checks_the_symbol_before_any_backend() -> None:
    answer = await schema.execute(
        'mutation { runBacktest(input: {symbol: "not a symbol!", interval: "1m", '
        'from: "2024-01-01", to: "2024-01-02", strategy: "sma_cross"}) { id } }',
        context_value=None,
    )
    assert answer.errors and answer.errors[0].extensions == {"code": "INVALID_ARGUMENT"}
