"""Every market kind beside trades and klines through GraphQL, against real servers:
live aggregate trades, book tickers, tickers and mini tickers from the bus, and the latest
stored book ticker and ticker of each symbol through storage's gRPC."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Any

import grpc
import httpx
import pytest
from nats.aio.client import Client as NatsClient

from graph import service as graph_service
from graph.context import Backends, Context
from graph.schema import schema
from quantflow.storage.v1 import storage_service_pb2_grpc
from services.common.events import AggTrade, BookTicker, Event, MiniTicker, Ticker
from services.ingest.binance import parse_message
from services.ingest.publisher import EventPublisher
from services.ingest.recordings import read_recording
from services.storage import service as storage_service
from tests.conftest import FIXTURES, SAMPLE_CAPTURE
from tests.integration.helpers import eventually, running, service_settings, trade_publisher

pytestmark = pytest.mark.integration

KLINE_AGGTRADE_CAPTURE = FIXTURES / "binance_spot_ws_2021-04-04_kline_aggtrade.jsonl"
TICKER_CAPTURE = FIXTURES / "binance_spot_ticker_miniticker_derived.jsonl"


def _events(path: Any, kind: type[Event]) -> list[Any]:
    verdicts = (parse_message(r.text, 1_700_000_000_000_000) for r in read_recording(path))
    return [v for v in verdicts if isinstance(v, kind)]


async def _first_delivery(
    publisher: EventPublisher, events: list[Event], query: str, backends: Backends
) -> dict[str, Any]:
    """Subscribe with ``query`` and publish ``events`` one after another (round and round)
    until the subscriber has one: what it missed before it listened is sent again."""
    stream = await schema.subscribe(query, context_value=Context(backends))
    assert isinstance(stream, AsyncGenerator), stream
    try:
        first = asyncio.ensure_future(anext(stream))
        deadline = asyncio.get_running_loop().time() + 30
        for event in events * 100:
            if first.done() or asyncio.get_running_loop().time() > deadline:
                break
            await publisher.publish(event)
            await publisher.flush()
            await asyncio.wait({first}, timeout=0.05)
        result = await asyncio.wait_for(first, 10)
    finally:
        await stream.aclose()
    assert result.data is not None, result.errors
    delivered: dict[str, Any] = next(iter(result.data.values()))
    return delivered


async def test_each_live_kind_reaches_its_subscription_with_its_fields(
    nats_client: NatsClient, namespace: str
) -> None:
    _, publisher = await trade_publisher(nats_client, namespace)
    agg = _events(KLINE_AGGTRADE_CAPTURE, AggTrade)
    book = _events(SAMPLE_CAPTURE, BookTicker)
    ticker = _events(TICKER_CAPTURE, Ticker)
    mini = _events(TICKER_CAPTURE, MiniTicker)
    async with grpc.aio.insecure_channel("127.0.0.1:1") as unused:  # no storage needed
        backends = Backends(
            storage=storage_service_pb2_grpc.StorageServiceStub(unused),
            nats=nats_client,
            namespace=namespace,
        )
        got_agg = await _first_delivery(
            publisher,
            agg[:50],
            'subscription { aggTrades(symbols: ["BTCUSDT"]) '
            "{ symbol aggId price quantity firstTradeId lastTradeId tradeTimeMs buyerIsMaker } }",
            backends,
        )
        got_book = await _first_delivery(
            publisher,
            book[:50],
            "subscription { bookTickers { symbol updateId bidPrice bidQuantity askPrice } }",
            backends,
        )
        got_ticker = await _first_delivery(
            publisher,
            ticker,
            "subscription { tickers { symbol eventTimeMs lastPrice volume trades } }",
            backends,
        )
        got_mini = await _first_delivery(
            publisher, mini, "subscription { miniTickers { symbol close quoteVolume } }", backends
        )
    [sent_agg] = [a for a in agg if a.agg_id == int(got_agg["aggId"])]
    assert got_agg == {
        "symbol": "BTCUSDT",
        "aggId": str(sent_agg.agg_id),  # Int64 travels as a string
        "price": sent_agg.price,
        "quantity": sent_agg.quantity,
        "firstTradeId": str(sent_agg.first_trade_id),
        "lastTradeId": str(sent_agg.last_trade_id),
        "tradeTimeMs": str(sent_agg.trade_time_ms),
        "buyerIsMaker": sent_agg.buyer_is_maker,
    }
    [sent_book] = [b for b in book if b.update_id == int(got_book["updateId"])]
    assert (got_book["bidPrice"], got_book["askPrice"]) == (
        sent_book.bid_price,
        sent_book.ask_price,
    )
    [sent_ticker] = [t for t in ticker if t.event_time_ms == int(got_ticker["eventTimeMs"])]
    assert (got_ticker["lastPrice"], got_ticker["trades"]) == (
        sent_ticker.last_price,
        str(sent_ticker.trades),
    )
    assert (got_mini["symbol"], got_mini["close"]) in {(m.symbol, m.close) for m in mini}


async def test_latest_book_ticker_and_ticker_are_queried_from_storage(
    database_url: str, nats_url: str, namespace: str, nats_client: NatsClient
) -> None:
    settings = service_settings(database_url, nats_url, namespace)
    _, publisher = await trade_publisher(nats_client, namespace)
    books = _events(SAMPLE_CAPTURE, BookTicker)
    tickers = _events(TICKER_CAPTURE, Ticker)
    for event in [*books, *tickers]:
        await publisher.publish(event)
    await publisher.flush()
    newest_book = max(books, key=lambda b: b.update_id)
    newest_ticker = max(tickers, key=lambda t: t.event_time_ms)
    query = (
        '{ bookTickers(symbols: ["btcusdt"]) { venue symbol updateId bidPrice bidQuantity '
        "askPrice askQuantity receivedTimeUs } "
        "tickers { symbol eventTimeMs lastPrice openTimeMs closeTimeMs trades volume } "
        'none: bookTickers(symbols: ["ETHUSDT"]) { symbol } }'
    )
    url = f"http://127.0.0.1:{settings.graph_port}/graphql"
    async with (
        running(storage_service.run, settings, settings.storage_grpc_port),
        running(graph_service.run, settings, settings.graph_grpc_port),
        httpx.AsyncClient() as client,
    ):

        async def answer() -> dict[str, Any]:
            response = await client.post(url, json={"query": query}, timeout=10)
            body: dict[str, Any] = response.json()
            return body

        async def stored() -> bool:
            try:
                data = (await answer()).get("data") or {}
            except httpx.HTTPError:
                return False
            return (
                bool(data.get("bookTickers"))
                and bool(data.get("tickers"))
                and (
                    data["bookTickers"][0]["updateId"] == str(newest_book.update_id)
                    and data["tickers"][0]["eventTimeMs"] == str(newest_ticker.event_time_ms)
                )
            )

        await eventually(stored)
        body = await answer()
        bad = await client.post(url, json={"query": '{ tickers(venue: "kraken") { symbol } }'})
    assert "errors" not in body
    assert body["data"]["bookTickers"] == [
        {
            "venue": "binance",
            "symbol": "BTCUSDT",
            "updateId": str(newest_book.update_id),
            "bidPrice": newest_book.bid_price,
            "bidQuantity": newest_book.bid_quantity,
            "askPrice": newest_book.ask_price,
            "askQuantity": newest_book.ask_quantity,
            "receivedTimeUs": str(newest_book.received_time_us),
        }
    ]
    assert body["data"]["tickers"] == [
        {
            "symbol": newest_ticker.symbol,
            "eventTimeMs": str(newest_ticker.event_time_ms),
            "lastPrice": newest_ticker.last_price,
            "openTimeMs": str(newest_ticker.open_time_ms),
            "closeTimeMs": str(newest_ticker.close_time_ms),
            "trades": str(newest_ticker.trades),
            "volume": newest_ticker.volume,
        }
    ]
    assert body["data"]["none"] == []
    assert bad.json()["errors"][0]["extensions"]["code"] == "INVALID_ARGUMENT"
