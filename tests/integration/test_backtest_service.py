"""Backtests end to end: Binance's real 1m klines stored by the storage tables' own write
path, read by the backtest service over StorageService.GetOhlc, run through gRPC and the
GraphQL schema, results stored in PostgreSQL and read back by id."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import grpc
import pytest
import pytest_asyncio
from nats.aio.client import Client as NatsClient
from prometheus_client import REGISTRY

from graph.context import Backends, Context
from graph.schema import schema
from quantflow.backtest.v1 import backtest_service_pb2 as pb
from quantflow.backtest.v1 import backtest_service_pb2_grpc
from quantflow.storage.v1 import storage_service_pb2_grpc
from services.backtest import engine, strategies
from services.backtest import service as backtest_service
from services.backtest.bars import Bars, Indicators
from services.storage import service as storage_service
from services.storage import tables
from services.storage.repository import TradeRepository, prepare_connection
from tests.integration.helpers import running, service_settings
from tests.vision_klines import USDM_1M, klines, rows

pytestmark = pytest.mark.integration

DAY = 1649376000000  # 2022-04-08T00:00:00Z
MINUTE = 60_000
USDM = "binance_usdm"


@dataclass
class Stack:
    stub: backtest_service_pb2_grpc.BacktestServiceStub
    context: Context
    pool: asyncpg.Pool
    target: str

    async def query(self, document: str) -> dict[str, Any]:
        result = await schema.execute(document, context_value=self.context)
        assert result.errors is None, result.errors
        assert result.data is not None
        return result.data

    async def error(self, document: str) -> tuple[str, str]:
        result = await schema.execute(document, context_value=self.context)
        assert result.errors, result.data
        return result.errors[0].extensions["code"], result.errors[0].message  # type: ignore[index]


@pytest_asyncio.fixture
async def stack(
    database_url: str, nats_url: str, namespace: str, nats_client: NatsClient
) -> AsyncIterator[Stack]:
    """Storage and backtest services, with Binance's 1m klines of 2022-04-08 (USDⓈ-M
    BTCUSDT) stored."""
    settings = service_settings(database_url, nats_url, namespace)
    async with (
        running(storage_service.run, settings, settings.storage_grpc_port),
        running(backtest_service.run, settings, settings.backtest_grpc_port),
    ):
        pool = await asyncpg.create_pool(
            database_url, min_size=1, max_size=2, init=prepare_connection
        )
        try:
            written = await TradeRepository(pool).write(
                tables.KLINES, klines(USDM_1M, USDM, "BTCUSDT", "1m")
            )
            assert written == 1440
            async with (
                grpc.aio.insecure_channel(settings.storage_target) as storage,
                grpc.aio.insecure_channel(settings.backtest_target) as backtests,
            ):
                stub = backtest_service_pb2_grpc.BacktestServiceStub(backtests)
                backends = Backends(
                    storage=storage_service_pb2_grpc.StorageServiceStub(storage),
                    nats=nats_client,
                    namespace=namespace,
                    backtest=stub,
                )
                yield Stack(stub, Context(backends), pool, settings.backtest_target)
        finally:
            await pool.close()


def _iso(ms: int) -> str:
    return (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)).isoformat()


def _stored_bars(skip: range = range(0)) -> Bars:
    """The fixture's candles, parsed straight from the CSV: what the engine sees directly."""
    kept = [row for index, row in enumerate(rows(USDM_1M)) if index not in skip]
    return Bars.from_columns(
        [int(r[0]) for r in kept],
        [float(r[1]) for r in kept],
        [float(r[2]) for r in kept],
        [float(r[3]) for r in kept],
        [float(r[4]) for r in kept],
        [float(r[5]) for r in kept],
        interval_seconds=60,
    )


def _engine_final_equity(bars: Bars, fill: engine.Fill = engine.Fill.NEXT_OPEN) -> float:
    sma = strategies.get("sma_cross")
    entries, exits = sma.signals(Indicators(bars), {"fast": 10, "slow": 30})
    return engine.simulate(bars, entries, exits, engine.Settings(fill=fill)).final_equity


def _input(**overrides: Any) -> pb.BacktestInput:
    given = pb.BacktestInput(
        symbol="BTCUSDT",
        venue=USDM,
        interval="1m",
        from_ms=DAY,
        to_ms=DAY + 86_400_000,
        strategy="sma_cross",
    )
    given.params.update({"fast": 10, "slow": 30})
    for name, value in overrides.items():
        if name == "params":
            given.params.Clear()
            given.params.update(value)
        else:
            setattr(given, name, value)
    return given


def _mutation(fields: str = "", **arguments: str) -> str:
    given = {
        "symbol": '"BTCUSDT"',
        "venue": f'"{USDM}"',
        "interval": '"1m"',
        "from": f'"{_iso(DAY)}"',
        "to": f'"{_iso(DAY + 86_400_000)}"',
        "strategy": '"sma_cross"',
        "params": "{fast: 10, slow: 30}",
        **arguments,
    }
    text = ", ".join(f"{key}: {value}" for key, value in given.items())
    return (
        f"mutation {{ runBacktest(input: {{{text}}}) {{ id fill "
        "metrics { totalReturn finalEquity trades entries sharpe maxDrawdown exposure "
        "buyAndHoldReturn } dataQuality { bars holes source } " + fields + " } }"
    )


async def test_strategies_list_the_builtins_and_the_declarative_one(stack: Stack) -> None:
    reply = await stack.stub.ListStrategies(pb.ListStrategiesRequest())
    assert {"sma_cross", "ema_cross", "rsi_reversion", "declarative"} <= {
        s.name for s in reply.strategies
    }
    data = await stack.query("{ strategies { name params { name type default min max } } }")
    sma = next(s for s in data["strategies"] if s["name"] == "sma_cross")
    assert sma["params"][0] == {"name": "fast", "type": "int", "default": 10, "min": 1.0,
                                "max": 10000.0}  # fmt: skip
    declarative = next(s for s in data["strategies"] if s["name"] == "declarative")
    assert [p["type"] for p in declarative["params"]] == ["string", "string"]


def _runs(outcome: str) -> float:
    return REGISTRY.get_sample_value("quantflow_backtest_runs_total", {"outcome": outcome}) or 0.0


async def test_a_grpc_backtest_ends_where_the_engine_ends_on_the_same_candles(
    stack: Stack,
) -> None:
    runs_before = _runs("ok")
    for fill, engine_fill in ((pb.FILL_NEXT_OPEN, engine.Fill.NEXT_OPEN),
                              (pb.FILL_CLOSE, engine.Fill.CLOSE)):  # fmt: skip
        reply = await stack.stub.RunBacktest(pb.RunBacktestRequest(input=_input(fill=fill)))
        result = reply.result
        expected = _engine_final_equity(_stored_bars(), engine_fill)
        assert result.metrics.final_equity == pytest.approx(expected, rel=1e-12)
        assert result.metrics.total_return == pytest.approx(expected / 10_000 - 1, rel=1e-12)
        assert result.metrics.entries > 5
        assert result.fill == fill
        assert (result.data_quality.bars, result.data_quality.holes) == (1440, 0)
        assert result.data_quality.source == "kline_1m"
        assert len(result.equity_time) == 1440
        assert result.equity_value[-1] == pytest.approx(expected, rel=1e-12)
        stored = (await stack.stub.GetBacktest(pb.GetBacktestRequest(id=result.id))).result
        assert stored == result
    assert _runs("ok") == runs_before + 2  # Prometheus counts them


async def test_a_graphql_backtest_agrees_and_can_be_read_back_by_id(stack: Stack) -> None:
    data = await stack.query(
        _mutation(
            "equity(points: 10) { time value } tradeList(first: 2) { totalCount "
            "edges { cursor node { direction entryTime exitTime entryPrice exitPrice "
            "pnl return exitReason } } pageInfo { hasNextPage endCursor } }"
        )
    )
    result = data["runBacktest"]
    expected = _engine_final_equity(_stored_bars())
    assert result["fill"] == "NEXT_OPEN"
    assert result["metrics"]["totalReturn"] == pytest.approx(expected / 10_000 - 1, rel=1e-12)
    assert result["dataQuality"] == {"bars": 1440, "holes": 0, "source": "kline_1m"}
    equity = result["equity"]
    assert len(equity) == 10
    assert equity[0]["time"] == str(DAY) and equity[-1]["time"] == str(DAY + 1439 * MINUTE)
    assert equity[-1]["value"] == pytest.approx(expected, rel=1e-12)
    trades = result["tradeList"]
    assert trades["totalCount"] == result["metrics"]["entries"]
    assert len(trades["edges"]) == 2 and trades["pageInfo"]["hasNextPage"]
    first = trades["edges"][0]["node"]
    assert first["direction"] == "LONG" and int(first["entryTime"]) < int(first["exitTime"])

    again = await stack.query(
        f'{{ backtest(id: "{result["id"]}") {{ id fill metrics {{ totalReturn }} '
        f'tradeList(first: 1, after: "{trades["pageInfo"]["endCursor"]}") '
        "{ edges { node { entryTime } } } } }"
    )
    assert again["backtest"]["metrics"] == {"totalReturn": result["metrics"]["totalReturn"]}
    third = again["backtest"]["tradeList"]["edges"][0]["node"]["entryTime"]
    assert int(third) > int(trades["edges"][1]["node"]["entryTime"])
    stored = await stack.pool.fetchval("SELECT count(*) FROM backtest_results")
    assert stored == 1


async def test_a_declarative_strategy_runs_through_graphql(stack: Stack) -> None:
    data = await stack.query(
        _mutation(
            strategy='"declarative"',
            params='{entry: "close crosses_above sma(30)", exit: "close crosses_below sma(30)"}',
        )
    )
    assert data["runBacktest"]["metrics"]["entries"] > 0


async def test_holes_are_counted_not_filled(stack: Stack) -> None:
    await stack.pool.execute(
        "DELETE FROM klines WHERE open_time >= $1 AND open_time < $2",
        datetime.fromtimestamp((DAY + 100 * MINUTE) / 1000, tz=UTC),
        datetime.fromtimestamp((DAY + 103 * MINUTE) / 1000, tz=UTC),
    )
    reply = await stack.stub.RunBacktest(pb.RunBacktestRequest(input=_input()))
    assert (reply.result.data_quality.bars, reply.result.data_quality.holes) == (1437, 3)
    expected = _engine_final_equity(_stored_bars(skip=range(100, 103)))
    assert reply.result.metrics.final_equity == pytest.approx(expected, rel=1e-12)


async def test_a_range_without_candles_is_not_found_naming_it(stack: Stack) -> None:
    empty = _input(from_ms=DAY - 86_400_000, to_ms=DAY)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stack.stub.RunBacktest(pb.RunBacktestRequest(input=empty))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    message = caught.value.details() or ""
    assert "BTCUSDT 1m" in message and "2022-04-07T00:00:00Z, 2022-04-08T00:00:00Z" in message
    code, message = await stack.error(
        _mutation(**{"from": f'"{_iso(DAY - 86_400_000)}"', "to": f'"{_iso(DAY)}"'})
    )
    assert code == "NOT_FOUND" and "BTCUSDT 1m" in message


async def test_bad_strategies_and_parameters_are_invalid_arguments_naming_them(
    stack: Stack,
) -> None:
    cases = [
        (_input(strategy="sma_crosss"), "sma_crosss"),
        (_input(params={"fast": 50, "slow": 10}), "fast < slow"),
        (_input(params={"fats": 5}), "fats"),
        (
            _input(strategy="declarative", params={"entry": "rsi(14) <", "exit": "close > 1"}),
            "entry",
        ),
        (_input(fee_rate=2.0), "feeRate"),
    ]
    refused_before = _runs("INVALID_ARGUMENT")
    for given, named in cases:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stack.stub.RunBacktest(pb.RunBacktestRequest(input=given))
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, named
        assert named in (caught.value.details() or ""), caught.value.details()
    assert _runs("INVALID_ARGUMENT") == refused_before + len(cases)
    code, message = await stack.error(_mutation(strategy='"nope"'))
    assert code == "INVALID_ARGUMENT" and "nope" in message


async def test_an_unknown_id_is_not_found_and_a_malformed_one_invalid(stack: Stack) -> None:
    code, message = await stack.error(
        '{ backtest(id: "00000000-0000-0000-0000-000000000000") { id } }'
    )
    assert code == "NOT_FOUND"
    code, message = await stack.error('{ backtest(id: "abc") { id } }')
    assert code == "INVALID_ARGUMENT" and "abc" in message


async def test_the_cli_prints_the_metrics_of_the_same_run(stack: Stack, tmp_path: Path) -> None:
    env = {**os.environ, "QUANTFLOW_BACKTEST_TARGET": stack.target}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.cli.main", "backtest", "BTCUSDT", "--venue", USDM,
        "--interval", "1m", "--from", "2022-04-08", "--to", "2022-04-09",
        "--strategy", "sma_cross", "--param", "fast=10", "--param", "slow=30",
        "--data-dir", str(tmp_path),
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    text = out.decode()
    expected = _engine_final_equity(_stored_bars())
    assert f"final equity       {expected:,.2f} (from 10,000.00)" in text, text
    assert "1,440 bars, 0 holes (kline_1m)" in text
    assert "sma_cross fast=10 slow=30, fill NEXT_OPEN" in text

    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.cli.main", "backtest", "BTCUSDT", "--from",
        "2022-04-08", "--to", "2022-04-09", "--data-dir", str(tmp_path),
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await process.communicate()
    assert process.returncode == 1
    assert "no candles stored for BTCUSDT 1m [2022-04-08T00:00:00Z" in err.decode()


async def test_list_backtests_answers_each_market_newest_first_full_or_summary(
    stack: Stack,
) -> None:
    ran = []
    for fast in (5, 10, 15):
        reply = await stack.stub.RunBacktest(
            pb.RunBacktestRequest(input=_input(params={"fast": fast, "slow": 30}))
        )
        ran.append(reply.result)
    markets = [
        pb.MarketKey(symbol="ETHUSDT", venue=USDM),
        pb.MarketKey(symbol="btcusdt", venue=USDM),
        pb.MarketKey(symbol="BTCUSDT"),  # spot: nothing stored there
    ]
    full = await stack.stub.ListBacktests(pb.ListBacktestsRequest(markets=markets, limit=2))
    assert [(m.market.symbol, m.market.venue) for m in full.markets] == [
        ("ETHUSDT", USDM),
        ("BTCUSDT", USDM),
        ("BTCUSDT", "binance"),
    ]
    eth, btc, spot = full.markets
    assert list(eth.results) == [] and list(spot.results) == []
    assert list(btc.results) == [ran[2], ran[1]]  # newest first, each as RunBacktest answered
    summary = await stack.stub.ListBacktests(
        pb.ListBacktestsRequest(markets=markets[1:2], limit=5, summary=True)
    )
    (listed,) = summary.markets
    assert [r.id for r in listed.results] == [r.id for r in reversed(ran)]
    for given, answered in zip(reversed(ran), listed.results, strict=True):
        assert answered.metrics == given.metrics and answered.input == given.input
        assert (list(answered.equity_time), list(answered.trades)) == ([], [])
    for limit in (0, 101):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stack.stub.ListBacktests(pb.ListBacktestsRequest(markets=markets, limit=limit))
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
