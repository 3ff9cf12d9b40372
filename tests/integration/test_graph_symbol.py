"""The ``Symbol`` entity over HTTP against real storage (PostgreSQL, NATS, gRPC on loopback):
one request answers a market's latest price, candles, indicators, coverage and trades, the
same as the top-level fields, and a federation router's ``_entities`` resolves it too."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import asyncpg
import pytest
import pytest_asyncio
from nats.aio.client import Client as NatsClient

from services.common.settings import Settings
from services.storage import service as storage_service
from services.storage import tables
from services.storage.repository import TradeRepository, prepare_connection
from tests.integration.graph_helpers import gateway, graphql
from tests.integration.helpers import (
    eventually,
    running,
    service_settings,
    trade,
    trade_publisher,
)
from tests.vision_klines import USDM_1M, klines

pytestmark = pytest.mark.integration

USDM = "binance_usdm"
RANGE = 'from: "2022-04-08T00:00:00Z", to: "2022-04-08T12:00:00Z"'
SERIES = (
    f'ohlc(interval: "1h", {RANGE}) {{ openTime close }} '
    f'indicators(interval: "1h", {RANGE}, specs: ["rsi(3)", "sma(4)"]) '
    "{ openTime series { spec values } } "
    'coverage(kind: "kline_1m") { stored missing holes { from to } }'
)


@pytest_asyncio.fixture
async def stored(
    database_url: str, nats_url: str, namespace: str, nats_client: NatsClient
) -> AsyncIterator[Settings]:
    """Storage and the gateway, with Binance's USDⓈ-M BTCUSDT 1m klines of 2022-04-08 and
    three futures trades stored."""
    settings = service_settings(database_url, nats_url, namespace)
    async with running(storage_service.run, settings, settings.storage_grpc_port):
        pool = await asyncpg.create_pool(
            database_url, min_size=1, max_size=1, init=prepare_connection
        )
        try:
            await TradeRepository(pool).write(tables.KLINES, klines(USDM_1M, USDM, "BTCUSDT", "1m"))
        finally:
            await pool.close()
        _, publisher = await trade_publisher(nats_client, namespace)
        for trade_id, price in ((1, "45001.10"), (2, "45002.20"), (3, "45003.30")):
            await publisher.publish(dataclasses.replace(trade(trade_id, price), venue=USDM))
        await publisher.flush()
        async with gateway(settings):

            async def latest_stored() -> bool:
                answer = await graphql(settings, f'{{ prices(venue: "{USDM}") {{ tradeId }} }}')
                return bool(answer["data"]["prices"] == [{"tradeId": "3"}])

            await eventually(latest_stored)
            yield settings


async def test_one_request_answers_a_symbol_like_the_top_level_fields(stored: Settings) -> None:
    top_level = SERIES.replace("ohlc(", f'ohlc(symbol: "BTCUSDT", venue: "{USDM}", ')
    top_level = top_level.replace("indicators(", f'indicators(symbol: "BTCUSDT", venue: "{USDM}", ')
    top_level = top_level.replace("coverage(", f'coverage(symbol: "BTCUSDT", venue: "{USDM}", ')
    answer = await graphql(
        stored,
        f'{{ symbol(name: "btcusdt", venue: "{USDM}") {{ name venue '
        "latest { price tradeId } history(first: 2) { edges { node { tradeId price } } } "
        f"{SERIES} }} {top_level} }}",
    )
    assert "errors" not in answer, answer
    data = answer["data"]
    market = data.pop("symbol")
    assert market.pop("name") == "BTCUSDT" and market.pop("venue") == USDM
    assert market.pop("latest") == {"price": "45003.30", "tradeId": "3"}
    assert market.pop("history") == {
        "edges": [
            {"node": {"tradeId": "1", "price": "45001.10"}},
            {"node": {"tradeId": "2", "price": "45002.20"}},
        ]
    }
    # The rest is exactly what the top-level fields answer for the same symbol.
    assert market == data
    assert len(market["ohlc"]["openTime"]) == 12
    assert [s["spec"] for s in market["indicators"]["series"]] == ["rsi(3)", "sma(4)"]
    assert market["coverage"] == {"stored": "1440", "missing": "0", "holes": []}


async def test_entities_resolve_symbols_by_key_one_stored_and_one_not(stored: Settings) -> None:
    answer = await graphql(
        stored,
        "{ _entities(representations: ["
        f'{{__typename: "Symbol", name: "BTCUSDT", venue: "{USDM}"}}, '
        '{__typename: "Symbol", name: "ETHUSDT", venue: "binance"}]) '
        "{ ... on Symbol { name venue latest { price } "
        f'ohlc(interval: "1d", {RANGE}) {{ close }} }} }} }}',
    )
    assert "errors" not in answer, answer
    btc, eth = answer["data"]["_entities"]
    assert btc["latest"] == {"price": "45003.30"}
    assert btc["ohlc"]["close"] and len(btc["ohlc"]["close"]) == 1
    assert eth == {"name": "ETHUSDT", "venue": "binance", "latest": None, "ohlc": {"close": []}}


async def test_a_malformed_symbol_is_invalid_argument_over_http(stored: Settings) -> None:
    answer = await graphql(stored, '{ symbol(name: "BTC/USDT") { latest { price } } }')
    assert answer["data"] is None
    assert [e["extensions"]["code"] for e in answer["errors"]] == ["INVALID_ARGUMENT"]
