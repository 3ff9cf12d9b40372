"""``ohlc`` and ``indicators`` end to end: real Binance klines stored in PostgreSQL by the
storage tables' own write path, read back through the storage service's streamed gRPC and
the GraphQL schema."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from decimal import Decimal as D
from typing import Any

import asyncpg
import grpc
import numpy as np
import pandas as pd
import pytest
import pytest_asyncio
import ta
from nats.aio.client import Client as NatsClient

from graph.context import Backends, Context
from graph.schema import schema
from quantflow.storage.v1 import storage_service_pb2 as pb
from quantflow.storage.v1 import storage_service_pb2_grpc
from services.common.candles import Candle, aggregate
from services.storage import candle_queries, candle_rpc, tables
from services.storage import service as storage_service
from services.storage.repository import TradeRepository, prepare_connection
from tests.integration.helpers import running, service_settings, trade
from tests.vision_klines import USDM_1M, USDM_5M, candles, klines, rows

pytestmark = pytest.mark.integration

DAY = 1649376000000  # 2022-04-08T00:00:00Z
MINUTE = 60_000
USDM = "binance_usdm"


@dataclass
class Stack:
    stub: storage_service_pb2_grpc.StorageServiceStub
    context: Context
    pool: asyncpg.Pool

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
    """The storage service with Binance's 1m klines of 2022-04-08 (USDⓈ-M BTCUSDT) stored."""
    settings = service_settings(database_url, nats_url, namespace)
    async with running(storage_service.run, settings, settings.storage_grpc_port):
        pool = await asyncpg.create_pool(
            database_url, min_size=1, max_size=2, init=prepare_connection
        )
        try:
            written = await TradeRepository(pool).write(
                tables.KLINES, klines(USDM_1M, USDM, "BTCUSDT", "1m")
            )
            assert written == 1440
            async with grpc.aio.insecure_channel(settings.storage_target) as channel:
                stub = storage_service_pb2_grpc.StorageServiceStub(channel)
                context = Context(Backends(storage=stub, nats=nats_client, namespace=namespace))
                yield Stack(stub, context, pool)
        finally:
            await pool.close()


def _time(ms: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)


def _iso(ms: int) -> str:
    return _time(ms).isoformat()


def _ohlc(interval: str, start: int = DAY, end: int = DAY + 86_400_000, symbol: str = "BTCUSDT",
          venue: str = USDM) -> str:  # fmt: skip
    return (
        f'{{ ohlc(symbol: "{symbol}", venue: "{venue}", interval: "{interval}", '
        f'from: "{_iso(start)}", to: "{_iso(end)}") {{ symbol interval source openTime open '
        "high low close volume quoteVolume trades } }"
    )


def _as_candles(series: dict[str, Any]) -> list[Candle]:
    columns = zip(
        series["openTime"],
        series["open"],
        series["high"],
        series["low"],
        series["close"],
        series["volume"],
        series["quoteVolume"],
        series["trades"],
        strict=True,
    )
    return [
        Candle(int(t), D(o), D(h), D(lo), D(c), D(v), D(q), int(n))
        for t, o, h, lo, c, v, q, n in columns
    ]


async def test_stored_1m_klines_give_binances_own_5m_klines_through_graphql(stack: Stack) -> None:
    series = (await stack.query(_ohlc("5m")))["ohlc"]
    assert (series["symbol"], series["interval"], series["source"]) == ("BTCUSDT", "5m", "kline_1m")
    assert _as_candles(series) == candles(USDM_5M)  # all 288, value for value
    assert all(isinstance(t, str) for t in series["openTime"])  # Int64 travels as a string


async def test_hours_and_the_day_equal_binances_5m_file_aggregated(stack: Stack) -> None:
    for interval in ("1h", "4h", "1d"):
        series = (await stack.query(_ohlc(interval)))["ohlc"]
        assert _as_candles(series) == list(aggregate(interval, candles(USDM_5M))), interval


async def test_the_stored_interval_itself_is_read_exactly_as_stored(stack: Stack) -> None:
    series = (await stack.query(_ohlc("1m", DAY, DAY + 3 * MINUTE)))["ohlc"]
    assert series["source"] == "kline_1m"
    assert series["open"] == [row[1] for row in rows(USDM_1M)[:3]]  # "43417.10": as sent
    assert series["volume"] == [row[5] for row in rows(USDM_1M)[:3]]
    assert series["openTime"] == [str(DAY + i * MINUTE) for i in range(3)]


async def test_the_range_is_half_open_on_open_times_and_each_candle_whole(stack: Stack) -> None:
    series = (await stack.query(_ohlc("5m", DAY + 7 * MINUTE, DAY + 20 * MINUTE)))["ohlc"]
    assert series["openTime"] == [str(DAY + 10 * MINUTE), str(DAY + 15 * MINUTE)]
    series = (await stack.query(_ohlc("5m", DAY + 5 * MINUTE, DAY + 16 * MINUTE)))["ohlc"]
    binance = {c.open_time: c for c in candles(USDM_5M)}
    assert _as_candles(series) == [binance[DAY + m * MINUTE] for m in (5, 10, 15)]


async def test_a_hole_stays_a_hole(stack: Stack) -> None:
    await stack.pool.execute(
        "DELETE FROM klines WHERE open_time >= $1 AND open_time < $2",
        _time(DAY + 60 * MINUTE),
        _time(DAY + 65 * MINUTE),
    )
    series = (await stack.query(_ohlc("5m")))["ohlc"]
    assert len(series["openTime"]) == 287
    assert str(DAY + 60 * MINUTE) not in series["openTime"]
    hour = (await stack.query(_ohlc("1h", DAY + 60 * MINUTE, DAY + 120 * MINUTE)))["ohlc"]
    left = [c for c in candles(USDM_1M) if DAY + 65 * MINUTE <= c.open_time < DAY + 120 * MINUTE]
    assert _as_candles(hour) == list(aggregate("1h", left))


async def test_stored_coarser_klines_are_preferred_when_they_cover_as_much(stack: Stack) -> None:
    await TradeRepository(stack.pool).write(tables.KLINES, klines(USDM_5M, USDM, "BTCUSDT", "5m"))
    series = (await stack.query(_ohlc("1h")))["ohlc"]
    assert series["source"] == "kline_5m"
    assert _as_candles(series) == list(aggregate("1h", candles(USDM_1M)))


async def test_without_klines_candles_are_built_from_trades(stack: Stack) -> None:
    prices = ["100.5", "101.25", "99.75", "100.00"]
    trades = [trade(i + 1, price=p, symbol="ETHUSDT") for i, p in enumerate(prices)]
    await TradeRepository(stack.pool).write_trades(trades)
    start = trades[0].trade_time_ms // 1000 * 1000
    series = (await stack.query(_ohlc("1s", start, start + 1000, "ETHUSDT", "binance")))["ohlc"]
    assert series["source"] == "trade"
    [candle] = _as_candles(series)
    assert candle == Candle(
        start,
        Decimal("100.5"),
        Decimal("101.25"),
        Decimal("99.75"),
        Decimal("100"),
        Decimal("0.004"),
        sum((Decimal(p) * Decimal("0.001") for p in prices), Decimal(0)),
        4,
    )


async def test_nothing_stored_is_an_empty_series(stack: Stack) -> None:
    series = (await stack.query(_ohlc("1h", symbol="SOLUSDT")))["ohlc"]
    assert series["openTime"] == [] and series["close"] == []


async def test_candles_page_through_the_series_as_objects(stack: Stack) -> None:
    document = (
        '{ ohlc(symbol: "BTCUSDT", venue: "binance_usdm", interval: "1h", '
        f'from: "{_iso(DAY)}", to: "{_iso(DAY + 86_400_000)}") '
        "{ candles(first: 10, after: AFTER) { edges { cursor node { openTime open close trades } }"
        " pageInfo { hasNextPage endCursor } } } }"
    )
    seen: list[str] = []
    after = "null"
    while True:
        page = (await stack.query(document.replace("AFTER", after)))["ohlc"]["candles"]
        seen += [edge["node"]["openTime"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = f'"{page["pageInfo"]["endCursor"]}"'
    assert seen == [str(DAY + h * 3_600_000) for h in range(24)]


async def test_bad_arguments_are_typed_errors_naming_them(stack: Stack) -> None:
    code, message = await stack.error(_ohlc("7m"))
    assert code == "INVALID_ARGUMENT" and "'7m'" in message
    code, message = await stack.error(_ohlc("1h", DAY, DAY))
    assert code == "INVALID_ARGUMENT" and "before" in message
    code, message = await stack.error(_ohlc("1h", venue="kraken"))
    assert code == "INVALID_ARGUMENT" and "kraken" in message


def _indicators(specs: Sequence[str], interval: str = "1m") -> str:
    listed = ", ".join(f'"{s}"' for s in specs)
    return (
        f'{{ indicators(symbol: "BTCUSDT", venue: "binance_usdm", interval: "{interval}", '
        f'from: "{_iso(DAY)}", to: "{_iso(DAY + 86_400_000)}", specs: [{listed}]) '
        "{ source openTime series { spec name values } } }"
    )


async def test_indicators_align_with_the_candles_and_equal_ta(stack: Stack) -> None:
    answer = await stack.query(_indicators(["rsi(14)", "macd(12,26,9)", "obv"], "5m"))
    result = answer["indicators"]
    series = (await stack.query(_ohlc("5m")))["ohlc"]
    assert result["openTime"] == series["openTime"]
    assert result["source"] == "kline_1m"
    assert [(s["spec"], s["name"]) for s in result["series"]] == [
        ("rsi(14)", "rsi"),
        ("macd(12,26,9)", "macd"),
        ("macd(12,26,9)", "macd_diff"),
        ("macd(12,26,9)", "macd_signal"),
        ("obv", "on_balance_volume"),
    ]
    close = pd.Series([float(c) for c in series["close"]])
    rsi = result["series"][0]["values"]
    assert rsi[:13] == [None] * 13
    expected = ta.momentum.RSIIndicator(close, 14).rsi().to_numpy()
    np.testing.assert_allclose(np.array(rsi[13:], dtype=float), expected[13:], rtol=1e-9)
    signal = result["series"][3]["values"]
    assert signal[: 26 + 9 - 2] == [None] * 33 and signal[33] is not None


async def test_indicator_specs_are_checked_before_anything_is_read(stack: Stack) -> None:
    code, message = await stack.error(_indicators(["rsi(14)", "frobnicate(3)"]))
    assert code == "INVALID_ARGUMENT" and "frobnicate" in message
    code, message = await stack.error(_indicators(["rsi(0)"]))
    assert code == "INVALID_ARGUMENT" and "rsi(0)" in message


async def test_grpc_streams_long_series_in_chunks(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    request = pb.GetOhlcRequest(
        symbol="BTCUSDT", venue=USDM, interval="1s", from_ms=DAY, to_ms=DAY + 86_400_000
    )
    chunks = [chunk async for chunk in stack.stub.GetOhlc(request)]
    assert [c.source for c in chunks] == ["trade"]  # no 1s klines, no trades: one empty chunk
    assert list(chunks[0].open_time) == []

    monkeypatch.setattr(candle_queries, "_BATCH", 100)
    monkeypatch.setattr(candle_rpc, "_VALUES_PER_CHUNK", 1_000)
    request.interval = "1m"
    chunks = [chunk async for chunk in stack.stub.GetOhlc(request)]
    assert [len(c.open_time) for c in chunks] == [100] * 14 + [40]
    assert [t for c in chunks for t in c.open_time] == [DAY + i * MINUTE for i in range(1440)]
    indicator_chunks = [
        chunk
        async for chunk in stack.stub.GetIndicators(
            pb.GetIndicatorsRequest(
                symbol="BTCUSDT",
                venue=USDM,
                interval="1m",
                from_ms=DAY,
                to_ms=DAY + 86_400_000,
                specs=["sma(5)", "ema(5)", "rsi(5)"],
            )
        )
    ]
    assert {len(c.open_time) for c in indicator_chunks[:-1]} == {250}  # 1,000 values / 4
    assert sum(len(c.open_time) for c in indicator_chunks) == 1440
    assert all(len(s.values) == len(c.open_time) for c in indicator_chunks for s in c.series)
