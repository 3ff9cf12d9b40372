"""Spot and USDⓈ-M futures kept apart end to end (issue 6, item 14): ingest tells them
apart (or is told), the bus names them apart, storage keys them apart, and GraphQL asks
for them apart. Real JetStream, PostgreSQL and gRPC; GraphQL runs the real schema over a
real storage stub and NATS connection."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncGenerator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import grpc
import pytest
from nats.aio.client import Client as NatsClient
from strawberry.types import ExecutionResult

from graph.context import Backends, Context
from graph.schema import schema
from quantflow.market.v1 import ingest_service_pb2 as ingest_pb
from quantflow.market.v1 import ingest_service_pb2_grpc
from quantflow.storage.v1 import storage_service_pb2 as pb
from quantflow.storage.v1 import storage_service_pb2_grpc
from services.common import names
from services.common.trades import Trade
from services.ingest import service as ingest_service
from services.storage import service as storage_service
from services.storage.migrations import load_migrations, migrate
from services.storage.repository import TradeRepository, prepare_connection
from tests.conftest import SAMPLE_CAPTURE, USDM_CAPTURE
from tests.integration.helpers import (
    batch_msg_id,
    bus_events,
    bus_messages,
    eventually,
    running,
    service_settings,
    trade,
    trade_publisher,
)

pytestmark = pytest.mark.integration

USDM = names.VENUE_BINANCE_USDM


def futures(trade_id: int, price: str) -> Trade:
    return dataclasses.replace(trade(trade_id, price=price), venue=USDM)


async def _stored(database_url: str) -> list[tuple[str, str, int]]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch("SELECT venue, symbol, trade_id FROM trades ORDER BY 1, 2, 3")
    finally:
        await conn.close()
    return [(r["venue"], r["symbol"], r["trade_id"]) for r in rows]


PRICES_QUERY = """{
  spot: price(symbol: "BTCUSDT") { venue symbol price tradeId }
  futures: price(symbol: "BTCUSDT", venue: "binance_usdm") { venue symbol price tradeId }
  every: prices { venue symbol price }
  spotOnly: prices(venue: "binance") { venue price }
  futuresOfBtc: prices(symbols: ["BTCUSDT"], venue: "binance_usdm") { venue price }
}"""


async def test_futures_trade_with_higher_id_does_not_hide_the_spot_price(
    database_url: str, nats_url: str, namespace: str, nats_client: NatsClient
) -> None:
    settings = service_settings(database_url, nats_url, namespace)
    js, publisher = await trade_publisher(nats_client, namespace)
    spot = [trade(1, "61583.01"), trade(2, "61583.02"), trade(3, "61583.03")]
    # Futures id 3 equals a spot id; futures id 9e9 is far above every spot id.
    usdm = [futures(3, "24670.90"), futures(9_000_000_000, "24671.00")]
    for event in [*spot, *usdm]:
        await publisher.publish(event)
    await publisher.flush()
    assert len(await bus_events(js, namespace)) == 5

    async with running(storage_service.run, settings, settings.storage_grpc_port):

        async def all_stored() -> bool:
            return len(await _stored(database_url)) == 5

        await eventually(all_stored)
        async with grpc.aio.insecure_channel(settings.storage_target) as channel:
            stub = storage_service_pb2_grpc.StorageServiceStub(channel)
            context = Context(Backends(storage=stub, nats=nats_client, namespace=namespace))
            result = await schema.execute(PRICES_QUERY, context_value=context)
            with pytest.raises(grpc.aio.AioRpcError) as invalid:
                await stub.GetLatestPrice(pb.GetLatestPriceRequest(symbol="BTCUSDT", venue="x"))
            listing = await stub.ListLatestPrices(pb.ListLatestPricesRequest(venue=USDM))
    assert await _stored(database_url) == [
        ("binance", "BTCUSDT", 1),
        ("binance", "BTCUSDT", 2),
        ("binance", "BTCUSDT", 3),
        (USDM, "BTCUSDT", 3),
        (USDM, "BTCUSDT", 9_000_000_000),
    ]
    assert result.errors is None, result.errors
    data: dict[str, Any] = result.data or {}
    spot_price, futures_price = data["spot"], data["futures"]
    assert (spot_price["venue"], spot_price["price"], int(spot_price["tradeId"])) == (
        "binance",
        "61583.03",
        3,
    )
    assert (futures_price["venue"], futures_price["price"], int(futures_price["tradeId"])) == (
        USDM,
        "24671.00",
        9_000_000_000,
    )
    assert data["every"] == [
        {"venue": "binance", "symbol": "BTCUSDT", "price": "61583.03"},
        {"venue": USDM, "symbol": "BTCUSDT", "price": "24671.00"},
    ]
    assert data["spotOnly"] == [{"venue": "binance", "price": "61583.03"}]
    assert data["futuresOfBtc"] == [{"venue": USDM, "price": "24671.00"}]
    assert invalid.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "'x'" in (invalid.value.details() or "")
    assert [(p.venue, p.trade_id) for p in listing.prices] == [(USDM, 9_000_000_000)]


@pytest.mark.parametrize(
    ("capture", "venue_setting", "published_venue", "trades"),
    [
        (USDM_CAPTURE, "auto", USDM, 5),  # told by the payloads themselves
        (SAMPLE_CAPTURE, USDM, USDM, 89),  # a capture whose user says it is futures
        (USDM_CAPTURE, "binance", "binance", 5),
    ],
    ids=["usdm-detected", "usdm-forced", "spot-forced"],
)
async def test_replayed_capture_is_published_under_its_venue(
    database_url: str,
    nats_url: str,
    namespace: str,
    nats_client: NatsClient,
    capture: Path,
    venue_setting: str,
    published_venue: str,
    trades: int,
) -> None:
    settings = service_settings(
        database_url, nats_url, namespace, source=f"replay:{capture}", venue=venue_setting
    )
    target = f"127.0.0.1:{settings.ingest_grpc_port}"
    async with running(ingest_service.run, settings, settings.ingest_grpc_port):

        async def finished() -> bool:
            async with grpc.aio.insecure_channel(target) as channel:
                stub = ingest_service_pb2_grpc.IngestServiceStub(channel)
                status = await stub.GetIngestStatus(ingest_pb.GetIngestStatusRequest(), timeout=5)
            return bool(status.source_finished)

        await eventually(finished)
    js = nats_client.jetstream()
    trade_subject = names.trade_subject("BTCUSDT", published_venue, namespace)
    messages = await bus_messages(js, namespace, trade_subject)
    # Every trade of the capture is on the venue's subject (its book tickers beside).
    assert sum(len(events) for _, events in messages) == trades
    for msg_id, events in messages:
        assert all(event.venue == published_venue for event in events)
        assert msg_id == batch_msg_id(events)
        assert msg_id.startswith(f"{published_venue}:BTCUSDT:trade:")


async def test_migration_0002_keeps_rows_stored_under_0001_as_spot(database_url: str) -> None:
    traded_at = datetime(2024, 8, 8, 23, 54, 15, 209000, tzinfo=UTC)
    conn = await asyncpg.connect(database_url)
    try:
        assert await migrate(conn, load_migrations()[:1]) == 1
        await conn.execute(
            "INSERT INTO trades (symbol, trade_id, price, quantity, trade_time, buyer_is_maker,"
            " venue) VALUES ('BTCUSDT', 3, 61583.03, 0.001, $1, true, 'binance')",
            traded_at,
        )
        await conn.execute(
            "INSERT INTO latest_prices (symbol, trade_id, price, quantity, trade_time)"
            " VALUES ('BTCUSDT', 3, 61583.03, 0.001, $1)",
            traded_at,
        )
        assert await migrate(conn, load_migrations()[:2]) == 2
        assert await migrate(conn) == load_migrations()[-1].version  # later ones leave trades be
    finally:
        await conn.close()
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=1, init=prepare_connection)
    try:
        repository = TradeRepository(pool)
        [kept] = await repository.latest_prices(["BTCUSDT"])
        # The same id on the futures venue is a new trade; on spot it is the stored one.
        written = await repository.write_trades([futures(3, "24670.90"), trade(3, "61583.03")])
        latest = await repository.latest_prices(["BTCUSDT"])
    finally:
        await pool.close()
    assert (kept.venue, kept.trade_id, kept.price) == ("binance", 3, "61583.03")
    assert kept.trade_time_ms == 1723161255209
    assert written == 1
    assert await _stored(database_url) == [("binance", "BTCUSDT", 3), (USDM, "BTCUSDT", 3)]
    assert [(p.venue, p.price) for p in latest] == [("binance", "61583.03"), (USDM, "24670.90")]


def _trade_of(result: ExecutionResult) -> dict[str, Any]:
    assert result.data is not None, result.errors
    trade_seen: dict[str, Any] = result.data["trades"]
    return trade_seen


async def test_trades_subscription_with_venue_streams_only_that_venue(
    nats_client: NatsClient, namespace: str
) -> None:
    _, publisher = await trade_publisher(nats_client, namespace)
    async with grpc.aio.insecure_channel("127.0.0.1:1") as unused:  # subscriptions need no storage
        backends = Backends(
            storage=storage_service_pb2_grpc.StorageServiceStub(unused),
            nats=nats_client,
            namespace=namespace,
        )
        stream = await schema.subscribe(
            'subscription { trades(symbols: ["BTCUSDT"], venue: "binance_usdm") '
            "{ venue tradeId price } }",
            context_value=Context(backends),
        )
        assert isinstance(stream, AsyncGenerator), stream
        received: list[dict[str, Any]] = []
        try:
            # The resolver subscribes once it is first awaited; until then events are not
            # seen, so publish spot-then-futures rounds until a futures one arrives, then one
            # more round, and read up to that last futures trade.
            first = asyncio.ensure_future(anext(stream))
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 30
            trade_id = 0
            while not first.done() and loop.time() < deadline:
                trade_id += 1
                await publisher.publish(trade(trade_id))
                await publisher.publish(futures(trade_id, "24670.90"))
                await publisher.flush()
                await asyncio.wait({first}, timeout=0.05)
            received.append(_trade_of(await asyncio.wait_for(first, 10)))
            last = trade_id + 1
            await publisher.publish(trade(last))
            await publisher.publish(futures(last, "24671.00"))
            await publisher.flush()
            while int(received[-1]["tradeId"]) != last:
                received.append(_trade_of(await asyncio.wait_for(anext(stream), 10)))
        finally:
            await stream.aclose()
    assert {item["venue"] for item in received} == {USDM}
    assert received[-1]["price"] == "24671.00"
