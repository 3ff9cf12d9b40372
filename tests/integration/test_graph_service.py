"""The graph service in-process (uvicorn on a real port) with real storage, PostgreSQL and
NATS behind it: what a GraphQL client sees when things work and when the database is down."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
from pathlib import Path

import pytest
from nats.aio.client import Client as NatsClient
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from services.common.embedded import start_postgres
from services.ingest.publisher import EventPublisher
from services.storage import service as storage_service
from tests.integration.graph_helpers import gateway, graphql
from tests.integration.helpers import (
    eventually,
    running,
    service_settings,
    trade,
    trade_publisher,
)

pytestmark = pytest.mark.integration

# 2^53 + 1: the first integer a JavaScript number cannot hold.
BEYOND_DOUBLE = 2**53 + 1


async def test_stored_data_answers_unavailable_while_postgresql_is_down_and_prices_from_memory(
    tmp_path: Path, nats_url: str, namespace: str, nats_client: NatsClient
) -> None:
    postgres = await asyncio.to_thread(start_postgres, tmp_path / "pgdata")
    try:
        settings = service_settings(postgres.dsn(), nats_url, namespace)
        query = (
            '{ price(symbol: "BTCUSDT") { price } prices { symbol } '
            'history(symbol: "BTCUSDT") { pageInfo { hasNextPage } } '
            'coverage(symbol: "BTCUSDT", kind: "trade") { stored } }'
        )
        async with (
            running(storage_service.run, settings, settings.storage_grpc_port),
            gateway(settings),
        ):
            before = await graphql(settings, query)
            assert before["data"] == {
                "price": None,
                "prices": [],
                "history": {"pageInfo": {"hasNextPage": False}},
                "coverage": {"stored": "0"},
            }
            assert [e["extensions"]["code"] for e in before["errors"]] == ["NOT_FOUND"]

            await asyncio.to_thread(postgres.stop)
            answer = await graphql(settings, query)
    finally:
        await asyncio.to_thread(postgres.delete)

    # Each field fails on its own, typed: the rest of a query still answers. Latest prices
    # come from storage's memory (kept by every committed batch), so they still answer.
    assert answer["data"] == {"price": None, "prices": [], "history": None, "coverage": None}
    codes = {e["path"][0]: e["extensions"]["code"] for e in answer["errors"]}
    assert codes == {"price": "NOT_FOUND", "history": "UNAVAILABLE", "coverage": "UNAVAILABLE"}
    assert "Unexpected error." not in json.dumps(answer)


async def test_price_with_a_trade_id_beyond_2_pow_53_is_an_exact_string(
    database_url: str, nats_url: str, namespace: str, nats_client: NatsClient
) -> None:
    settings = service_settings(database_url, nats_url, namespace)
    _, publisher = await trade_publisher(nats_client, namespace)
    await publisher.publish(dataclasses.replace(trade(1), trade_id=BEYOND_DOUBLE))
    await publisher.flush()
    query = '{ price(symbol: "BTCUSDT") { tradeId } prices { tradeId } }'
    async with (
        running(storage_service.run, settings, settings.storage_grpc_port),
        gateway(settings),
    ):

        async def stored() -> bool:
            return bool((await graphql(settings, query))["data"]["price"])

        await eventually(stored)
        answer = await graphql(settings, query)
    assert answer["data"] == {
        "price": {"tradeId": "9007199254740993"},
        "prices": [{"tradeId": "9007199254740993"}],
    }


async def _publish_until(publisher: EventPublisher, received: asyncio.Event) -> list[int]:
    """Odd ids above 2^53 (no double holds one) until the subscriber has one: graphql-ws
    never confirms a subscription, so what it misses before it listens is sent again."""
    published: list[int] = []
    while not received.is_set():
        published.append(BEYOND_DOUBLE + 2 * len(published))
        await publisher.publish(dataclasses.replace(trade(1), trade_id=published[-1]))
        await publisher.flush()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(received.wait(), 0.2)
    return published


async def test_legacy_graphql_ws_client_receives_a_published_trade(
    database_url: str, nats_url: str, namespace: str, nats_client: NatsClient
) -> None:
    settings = service_settings(database_url, nats_url, namespace)
    _, publisher = await trade_publisher(nats_client, namespace)
    ws_url = f"ws://127.0.0.1:{settings.graph_port}/graphql"
    async with (
        gateway(settings),
        connect(ws_url, subprotocols=[Subprotocol("graphql-ws")]) as socket,
    ):
        assert socket.subprotocol == "graphql-ws"
        await socket.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert json.loads(await socket.recv())["type"] == "connection_ack"
        query = 'subscription { trades(symbols: ["BTCUSDT"]) { symbol tradeId } }'
        await socket.send(json.dumps({"id": "1", "type": "start", "payload": {"query": query}}))
        received = asyncio.Event()
        publishing = asyncio.create_task(_publish_until(publisher, received))
        try:
            while True:
                message = json.loads(await asyncio.wait_for(socket.recv(), 30))
                if message["type"] != "ka":  # graphql-ws keep-alive
                    break
        finally:
            received.set()
            published = await publishing
    assert message["type"] == "data", message
    assert message["id"] == "1"
    got = message["payload"]["data"]["trades"]
    assert got["symbol"] == "BTCUSDT"
    assert isinstance(got["tradeId"], str) and int(got["tradeId"]) in published
