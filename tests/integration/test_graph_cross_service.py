"""The issue's cross-service query in one request over HTTP, against real storage, backtest and
alerts services (PostgreSQL, NATS JetStream, gRPC on loopback) holding data from real files:
Binance's BTCUSDT 1h klines of 2022-09-07 (one hour left out, to make a hole) imported, and the
trades of a recorded Binance spot stream replayed through the bus. Every part is checked
against what is computed here from the same files, or against what the service answered when
the object was made."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import asyncpg
import pandas
import pytest
import pytest_asyncio
import ta
from nats.aio.client import Client as NatsClient

from services.alerts import service as alerts_service
from services.backtest import service as backtest_service
from services.common.settings import Settings
from services.common.trades import Trade
from services.ingest.binance import parse_message
from services.ingest.recordings import read_recording
from services.storage import service as storage_service
from services.storage import tables
from services.storage.repository import TradeRepository, prepare_connection
from tests.conftest import FIXTURES, SAMPLE_CAPTURE
from tests.integration.graph_helpers import error_codes, gateway, graphql
from tests.integration.helpers import eventually, running, service_settings, trade_publisher
from tests.vision_klines import klines, rows

pytestmark = pytest.mark.integration

HOURLY = FIXTURES / "BTCUSDT-1h-2022-09-07.csv"
LEFT_OUT = 10  # the eleventh hour is not imported: coverage shows it as a hole
RANGE = 'from: "2022-09-07T00:00:00Z", to: "2022-09-08T00:00:00Z"'
METRICS = "sharpe maxDrawdown totalReturn"
CROSS_SERVICE = (
    '{ symbol(name: "BTCUSDT") { latest { price tradeTime } '
    f'ohlc(interval: "1h", {RANGE}) {{ openTime close }} '
    f'indicators(interval: "1h", {RANGE}, specs: ["rsi(14)", "sma(50)"]) '
    "{ series { spec values } } "
    'coverage(kind: "kline_1h") { holes { from to cause } } '
    f"backtests(last: 5) {{ strategy metrics {{ {METRICS} }} }} "
    "alertRules { id condition state } } }"
)


def _replayed_trades() -> list[Trade]:
    verdicts = (
        parse_message(r.text, 1_700_000_000_000_000) for r in read_recording(SAMPLE_CAPTURE)
    )
    return [v for v in verdicts if isinstance(v, Trade)]


def _reference_rsi(closes: list[float], window: int) -> list[float | None]:
    """RSI by the `ta` library, the reference the indicators are defined by."""
    values = ta.momentum.RSIIndicator(pandas.Series(closes), window).rsi()
    return [None if math.isnan(v) else float(v) for v in values]


async def _data(settings: Settings, document: str) -> dict[str, Any]:
    answer = await graphql(settings, document)
    assert "errors" not in answer, answer["errors"]
    data: dict[str, Any] = answer["data"]
    return data


@pytest_asyncio.fixture
async def stack(
    database_url: str, nats_url: str, namespace: str, nats_client: NatsClient
) -> AsyncIterator[Settings]:
    settings = service_settings(database_url, nats_url, namespace)
    async with (
        running(storage_service.run, settings, settings.storage_grpc_port),
        running(backtest_service.run, settings, settings.backtest_grpc_port),
        running(alerts_service.run, settings, settings.alerts_grpc_port),
    ):
        hourly = klines(HOURLY, "binance", "BTCUSDT", "1h")
        pool = await asyncpg.create_pool(
            database_url, min_size=1, max_size=1, init=prepare_connection
        )
        try:
            await TradeRepository(pool).write(
                tables.KLINES, [k for i, k in enumerate(hourly) if i != LEFT_OUT]
            )
        finally:
            await pool.close()
        _, publisher = await trade_publisher(nats_client, namespace)
        for event in _replayed_trades():
            await publisher.publish(event)
        await publisher.flush()
        async with gateway(settings):
            last = max(_replayed_trades(), key=lambda t: t.trade_id)

            async def replayed() -> bool:
                answer = await graphql(settings, '{ price(symbol: "BTCUSDT") { tradeId } }')
                return bool(
                    (answer.get("data") or {}).get("price") == {"tradeId": str(last.trade_id)}
                )

            await eventually(replayed)
            yield settings


async def test_the_cross_service_query_answers_every_part_in_one_request(stack: Settings) -> None:
    backtest = (
        'symbol: "BTCUSDT", interval: "1h", from: "2022-09-07T00:00:00Z", '
        'to: "2022-09-08T00:00:00Z", strategy: "sma_cross"'
    )
    ran = []
    for fast, slow in ((2, 5), (3, 8), (4, 10)):
        result = await _data(
            stack,
            f"mutation {{ runBacktest(input: {{ {backtest}, "
            f"params: {{fast: {fast}, slow: {slow}}} }}) "
            f"{{ id strategy params metrics {{ {METRICS} }} }} }}",
        )
        ran.append(result["runBacktest"])
    rules = []
    for condition in ("price > 70000", "price crosses_below 50000"):
        created = await _data(
            stack,
            f'mutation {{ createAlertRule(input: {{symbol: "BTCUSDT", condition: "{condition}"}}) '
            "{ id condition state } }",
        )
        rules.append(created["createAlertRule"])
    await _data(
        stack,
        'mutation { createAlertRule(input: {symbol: "ETHUSDT", condition: "price > 1"}) { id } }',
    )

    market = (await _data(stack, CROSS_SERVICE))["symbol"]

    last = max(_replayed_trades(), key=lambda t: t.trade_id)
    assert Decimal(market["latest"]["price"]) == Decimal(last.price)
    assert datetime.fromisoformat(market["latest"]["tradeTime"]) == datetime.fromtimestamp(
        last.trade_time_ms / 1000, tz=UTC
    )
    stored = [row for i, row in enumerate(rows(HOURLY)) if i != LEFT_OUT]
    assert [int(t) for t in market["ohlc"]["openTime"]] == [int(r[0]) for r in stored]
    assert [Decimal(c) for c in market["ohlc"]["close"]] == [Decimal(r[4]) for r in stored]
    rsi, sma = market["indicators"]["series"]
    assert (rsi["spec"], sma["spec"]) == ("rsi(14)", "sma(50)")
    expected_rsi = _reference_rsi([float(r[4]) for r in stored], 14)
    assert [v is None for v in rsi["values"]] == [v is None for v in expected_rsi]
    assert rsi["values"][13:] == pytest.approx(expected_rsi[13:], rel=1e-9)
    assert sma["values"] == [None] * len(stored)  # fewer than 50 hours stored
    hole = int(rows(HOURLY)[LEFT_OUT][0])
    assert market["coverage"]["holes"] == [{"from": str(hole), "to": str(hole), "cause": "MISSING"}]
    assert market["backtests"] == [
        {"strategy": r["strategy"], "metrics": r["metrics"]} for r in reversed(ran)
    ]
    assert sorted(market["alertRules"], key=lambda r: r["id"]) == sorted(
        [{**r, "state": "ARMED"} for r in rules], key=lambda r: r["id"]
    )


async def test_many_symbols_in_one_request_each_get_their_own_backtests_and_rules(
    stack: Settings,
) -> None:
    ran = await _data(
        stack,
        'mutation { runBacktest(input: { symbol: "BTCUSDT", interval: "1h", '
        'from: "2022-09-07T00:00:00Z", to: "2022-09-08T00:00:00Z", strategy: "sma_cross", '
        "params: {fast: 2, slow: 5} }) { id } }",
    )
    rule = await _data(
        stack,
        'mutation { createAlertRule(input: {symbol: "ETHUSDT", condition: "price > 1"}) { id } }',
    )
    aliases = " ".join(
        f'{alias}: symbol(name: "{name}") {{ backtests(last: 2) {{ id }} alertRules {{ id }} }}'
        for alias, name in (("btc", "BTCUSDT"), ("eth", "ETHUSDT"), ("sol", "SOLUSDT"))
    )
    data = await _data(stack, f"{{ {aliases} }}")
    assert data == {
        "btc": {"backtests": [{"id": ran["runBacktest"]["id"]}], "alertRules": []},
        "eth": {"backtests": [], "alertRules": [{"id": rule["createAlertRule"]["id"]}]},
        "sol": {"backtests": [], "alertRules": []},
    }


async def test_a_count_out_of_bounds_is_invalid_argument(stack: Settings) -> None:
    for last in (0, 101):
        answer = await graphql(
            stack, f'{{ symbol(name: "BTCUSDT") {{ backtests(last: {last}) {{ id }} }} }}'
        )
        assert error_codes(answer) == ["INVALID_ARGUMENT"]


async def test_backtests_answer_equity_and_trades_when_asked_as_backtest_does(
    stack: Settings,
) -> None:
    ran = await _data(
        stack,
        'mutation { runBacktest(input: { symbol: "BTCUSDT", interval: "1h", '
        'from: "2022-09-07T00:00:00Z", to: "2022-09-08T00:00:00Z", strategy: "sma_cross", '
        "params: {fast: 2, slow: 5} }) { id } }",
    )
    series = "equity { time value } tradeList(first: 100) { totalCount edges { node { pnl } } }"
    backtest_id = ran["runBacktest"]["id"]
    data = await _data(
        stack,
        f'{{ symbol(name: "BTCUSDT") {{ backtests(last: 1) {{ id {series} }} }} '
        f'backtest(id: "{backtest_id}") {{ id {series} }} }}',
    )
    (listed,) = data["symbol"]["backtests"]
    assert listed == data["backtest"]
    assert len(listed["equity"]) == 23 and listed["tradeList"]["totalCount"] > 0
