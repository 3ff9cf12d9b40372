"""Running services in-process for integration tests: real servers, real ports."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any

from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from pydantic import SecretStr

from services.common import bus, names
from services.common.codec import InvalidEvent, decode_message
from services.common.deadletter import DeadLetterPublisher
from services.common.embedded import free_port
from services.common.events import Event
from services.common.grpc_server import check_health
from services.common.names import VENUE_BINANCE
from services.common.settings import Settings
from services.common.trades import Trade
from services.ingest.publisher import EventPublisher

ServiceRun = Callable[[Settings, asyncio.Event], Coroutine[Any, Any, None]]


def service_settings(database_url: str, nats_url: str, namespace: str, **extra: Any) -> Settings:
    ports: dict[str, Any] = {
        "storage_grpc_port": free_port(),
        "ingest_grpc_port": free_port(),
        "graph_grpc_port": free_port(),
        "backtest_grpc_port": free_port(),
        "alerts_grpc_port": free_port(),
        "storage_metrics_port": 0,
        "ingest_metrics_port": 0,
        "backtest_metrics_port": 0,
        "alerts_metrics_port": 0,
        "graph_port": free_port(),
        # Never the real exchange: a gap backfill in a test that brings no REST fake fails
        # on loopback instead of reaching out to the internet.
        "binance_rest_url": f"http://127.0.0.1:{free_port()}",
    }
    ports["storage_target"] = f"127.0.0.1:{ports['storage_grpc_port']}"
    ports["ingest_target"] = f"127.0.0.1:{ports['ingest_grpc_port']}"
    ports["backtest_target"] = f"127.0.0.1:{ports['backtest_grpc_port']}"
    ports["alerts_target"] = f"127.0.0.1:{ports['alerts_grpc_port']}"
    return Settings(
        database_url=SecretStr(database_url),
        nats_url=nats_url,
        namespace=namespace,
        **{**ports, **extra},
    )


@contextlib.asynccontextmanager
async def running(run: ServiceRun, settings: Settings, grpc_port: int) -> AsyncIterator[None]:
    """Run a service's ``run`` as a task until the block ends; wait until it is SERVING."""
    stop = asyncio.Event()
    task = asyncio.create_task(run(settings, stop))
    target = f"127.0.0.1:{grpc_port}"
    for _ in range(200):
        if task.done():
            task.result()
            raise RuntimeError("service ended before it was healthy")
        if await check_health(target, timeout=0.5) == "SERVING":
            break
        await asyncio.sleep(0.05)
    else:
        raise TimeoutError(f"service at {target} never became healthy")
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 30.0) -> None:
    """Poll ``check`` until it holds; fail with a clear message if it never does."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"condition still false after {timeout:.0f}s")


def trade(trade_id: int, price: str = "61583.01000000", symbol: str = "BTCUSDT") -> Trade:
    """A valid BTCUSDT-like trade whose times follow its id."""
    return Trade(
        venue="binance",
        symbol=symbol,
        trade_id=trade_id,
        price=price,
        quantity="0.00100000",
        trade_time_ms=1723161255000 + trade_id,
        event_time_ms=1723161255001 + trade_id,
        buyer_is_maker=trade_id % 2 == 0,
        received_time_us=1723161256000000,
    )


async def trade_publisher(
    nats_client: NatsClient, namespace: str, window: int = 512
) -> tuple[JetStreamContext, EventPublisher]:
    """JetStream with the namespace's streams in place, and ingest's publisher on it."""
    js = nats_client.jetstream()
    await bus.ensure_streams(js, namespace, 3600)
    dead_letters = DeadLetterPublisher(js, namespace, VENUE_BINANCE)
    return js, EventPublisher(nats_client, namespace, dead_letters, window=window)


async def bus_messages(
    js: JetStreamContext, namespace: str, subject: str | None = None
) -> list[tuple[str, list[Event]]]:
    """Every market message on the stream (of ``subject``, or all): its ``Nats-Msg-Id`` and
    its events (one, or a batch's), decoded as storage decodes them."""
    stream = names.market_stream(namespace)
    filter_subject = subject or names.market_subjects(namespace)[0]
    info = await js.stream_info(stream, subjects_filter=filter_subject)
    count = sum((info.state.subjects or {}).values())
    subscription = await js.subscribe(filter_subject, stream=stream, ordered_consumer=True)
    try:
        found = []
        for _ in range(count):
            message = await subscription.next_msg(timeout=5)
            kind = names.subject_kind(message.subject, namespace)
            events = [
                event
                for event in decode_message(kind, message.data, message.headers)
                if not isinstance(event, InvalidEvent)
            ]
            found.append((message.headers["Nats-Msg-Id"] if message.headers else "", events))
    finally:
        await subscription.unsubscribe()
    return found


async def bus_events(
    js: JetStreamContext, namespace: str, subject: str | None = None
) -> list[Event]:
    """Every market event on the stream (of ``subject``, or all), batches unpacked."""
    return [event for _, events in await bus_messages(js, namespace, subject) for event in events]


def batch_msg_id(events: list[Event]) -> str:
    """The ``Nats-Msg-Id`` ingest gives a message of these events."""
    if len(events) == 1:
        return events[0].msg_id()
    first, last = events[0], events[-1]
    return names.batch_msg_id(
        first.venue, first.symbol, first.kind, first.sequence()[1], last.sequence()[1]
    )
