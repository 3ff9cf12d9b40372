"""The Symbol DataLoaders' batching: many markets in one request cost one upstream call
(one per distinct `last` for backtests), and each market gets its own answer back.

The stubs here record the requests they are given and answer like the services do (the
integration tests run the real services: tests/integration/test_graph_cross_service.py)."""

from __future__ import annotations

from typing import Any

from graph.loaders import load_alert_rules, load_backtests
from quantflow.alerts.v1 import alerts_service_pb2 as alerts_pb
from quantflow.backtest.v1 import backtest_service_pb2 as backtest_pb


class _Backtests:
    def __init__(self) -> None:
        self.requests: list[backtest_pb.ListBacktestsRequest] = []

    async def ListBacktests(
        self, request: backtest_pb.ListBacktestsRequest, timeout: float
    ) -> backtest_pb.ListBacktestsResponse:
        assert timeout > 0
        self.requests.append(request)
        return backtest_pb.ListBacktestsResponse(
            markets=[
                backtest_pb.MarketBacktests(
                    market=market,
                    results=[
                        backtest_pb.BacktestResult(id=f"{market.symbol}-{i}")
                        for i in range(min(request.limit, 2 if market.symbol == "BTCUSDT" else 0))
                    ],
                )
                for market in request.markets
            ]
        )


class _Alerts:
    def __init__(self, rules: list[alerts_pb.Rule]) -> None:
        self.requests: list[alerts_pb.ListRulesRequest] = []
        self._rules = rules

    async def ListRules(
        self, request: alerts_pb.ListRulesRequest, timeout: float
    ) -> alerts_pb.ListRulesResponse:
        assert timeout > 0
        self.requests.append(request)
        return alerts_pb.ListRulesResponse(
            rules=[r for r in self._rules if request.symbol in ("", r.symbol)]
        )


async def test_backtests_of_many_markets_cost_one_call_per_distinct_count() -> None:
    stub = _Backtests()
    keys = [
        ("BTCUSDT", "binance", 5, True),
        ("ETHUSDT", "binance", 5, True),
        ("BTCUSDT", "binance", 1, True),
        ("BTCUSDT", "binance", 1, False),
    ]
    found: list[Any] = await load_backtests(stub, keys)
    assert sorted((r.limit, r.summary) for r in stub.requests) == [(1, False), (1, True), (5, True)]
    assert [[r.id for r in results] for results in found] == [
        ["BTCUSDT-0", "BTCUSDT-1"],
        [],
        ["BTCUSDT-0"],
        ["BTCUSDT-0"],
    ]


async def test_alert_rules_of_many_symbols_cost_one_unfiltered_call() -> None:
    rules = [
        alerts_pb.Rule(id="1", symbol="BTCUSDT", venue="binance"),
        alerts_pb.Rule(id="2", symbol="ETHUSDT", venue="binance"),
        alerts_pb.Rule(id="3", symbol="BTCUSDT", venue="binance_usdm"),
    ]
    stub = _Alerts(rules)
    keys = [("BTCUSDT", "binance"), ("ETHUSDT", "binance"), ("SOLUSDT", "binance")]
    found: list[Any] = await load_alert_rules(stub, keys)
    assert [r.symbol for r in stub.requests] == [""]
    assert [[r.id for r in rules] for rules in found] == [["1"], ["2"], []]


async def test_alert_rules_of_one_symbol_ask_the_service_to_filter() -> None:
    stub = _Alerts([alerts_pb.Rule(id="1", symbol="BTCUSDT", venue="binance")])
    found: list[Any] = await load_alert_rules(stub, [("BTCUSDT", "binance")])
    assert [r.symbol for r in stub.requests] == ["BTCUSDT"]
    assert [[r.id for r in rules] for rules in found] == [["1"]]
