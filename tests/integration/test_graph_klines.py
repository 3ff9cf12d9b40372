"""The GraphQL ``klines`` subscription against a real NATS: in-progress and final klines of
one interval, as ingest publishes them."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncGenerator
from typing import Any

import grpc
import pytest
from nats.aio.client import Client as NatsClient
from strawberry.types import ExecutionResult

from graph.context import Backends, Context
from graph.schema import schema
from quantflow.storage.v1 import storage_service_pb2_grpc
from services.common.events import Kline
from services.ingest.binance import parse_message
from services.ingest.recordings import read_recording
from tests.conftest import FIXTURES
from tests.integration.helpers import trade_publisher

pytestmark = pytest.mark.integration

CAPTURE = FIXTURES / "binance_spot_ws_2021-04-04_kline_aggtrade.jsonl"


def _klines(symbol: str) -> list[Kline]:
    verdicts = (parse_message(r.text) for r in read_recording(CAPTURE))
    return [v for v in verdicts if isinstance(v, Kline) and v.symbol == symbol]


def _kline_of(result: ExecutionResult) -> dict[str, Any]:
    assert result.data is not None, result.errors
    kline: dict[str, Any] = result.data["klines"]
    return kline


async def test_klines_subscription_delivers_in_progress_and_final_klines_of_its_interval(
    nats_client: NatsClient, namespace: str
) -> None:
    btc = _klines("BTCUSDT")
    in_progress = [k for k in btc if not k.closed]
    [final] = [k for k in btc if k.closed]
    eth = _klines("ETHUSDT")[0]
    _, publisher = await trade_publisher(nats_client, namespace)
    async with grpc.aio.insecure_channel("127.0.0.1:1") as unused:  # no storage needed
        backends = Backends(
            storage=storage_service_pb2_grpc.StorageServiceStub(unused),
            nats=nats_client,
            namespace=namespace,
        )
        stream = await schema.subscribe(
            'subscription { klines(symbols: ["BTCUSDT"], interval: "1m") '
            "{ symbol interval openTimeMs high low close volume trades closed eventTimeMs } }",
            context_value=Context(backends),
        )
        assert isinstance(stream, AsyncGenerator), stream
        received: list[dict[str, Any]] = []
        try:
            # The resolver subscribes when first awaited: publish in-progress updates (each
            # a new message id) until one arrives, then the final kline.
            first = asyncio.ensure_future(anext(stream))
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 30
            rounds = 0
            while not first.done() and loop.time() < deadline:
                update = in_progress[rounds % len(in_progress)]
                shifted = update.event_time_ms + 100_000 * (rounds // len(in_progress))
                await publisher.publish(dataclasses.replace(update, event_time_ms=shifted))
                await publisher.publish(eth)  # another symbol: not for this subscriber
                await publisher.flush()
                rounds += 1
                await asyncio.wait({first}, timeout=0.05)
            received.append(_kline_of(await asyncio.wait_for(first, 10)))
            await publisher.publish(final)
            await publisher.flush()
            while not received[-1]["closed"]:
                received.append(_kline_of(await asyncio.wait_for(anext(stream), 10)))
        finally:
            await stream.aclose()
    assert {(k["symbol"], k["interval"]) for k in received} == {("BTCUSDT", "1m")}
    assert received[0]["closed"] is False
    assert received[-1] == {
        "symbol": "BTCUSDT",
        "interval": "1m",
        "openTimeMs": str(final.open_time_ms),  # Int64 travels as a string
        "high": final.high,
        "low": final.low,
        "close": final.close,
        "volume": final.volume,
        "trades": str(final.trades),
        "closed": True,
        "eventTimeMs": str(final.event_time_ms),
    }


async def test_klines_subscription_with_unknown_interval_is_invalid_argument(
    nats_client: NatsClient, namespace: str
) -> None:
    async with grpc.aio.insecure_channel("127.0.0.1:1") as unused:
        backends = Backends(
            storage=storage_service_pb2_grpc.StorageServiceStub(unused),
            nats=nats_client,
            namespace=namespace,
        )
        stream = await schema.subscribe(
            'subscription { klines(interval: "1H") { closed } }', context_value=Context(backends)
        )
        assert isinstance(stream, AsyncGenerator)
        result = await anext(stream)
        await stream.aclose()
    assert result.errors is not None
    assert result.errors[0].extensions == {"code": "INVALID_ARGUMENT"}
    assert "case matters" in result.errors[0].message
