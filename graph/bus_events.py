"""Live market events for GraphQL subscriptions, straight from NATS."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

from nats.aio.msg import Msg
from strawberry.types import Info

from graph.arguments import symbol_argument, venue_argument
from graph.context import Context
from services.common import names
from services.common.codec import InvalidEvent, decode_message
from services.common.events import Event

# Messages a slow client may fall behind by before the oldest are dropped.
_BACKLOG = 10_000


async def bus_events(
    info: Info[Context, None], kind: str, symbols: list[str] | None, venue: str | None
) -> AsyncGenerator[Event, None]:
    """Every valid ``kind`` event of the symbols (all if none) on the venue (all if none),
    straight from NATS; a slow client sees the newest events, not a backlog."""
    backends = info.context.backends
    only = venue_argument(venue) if venue is not None else None
    subjects = [
        names.kind_filter_subject(kind, only, symbol, backends.namespace)
        for symbol in ([symbol_argument(s) for s in symbols] if symbols else [None])
    ]
    # Bus messages: one event, or a batch of a subject's events (see services.common.codec).
    queue: asyncio.Queue[Msg] = asyncio.Queue(maxsize=_BACKLOG)

    async def deliver(message: Msg) -> None:
        if queue.full():
            queue.get_nowait()
        queue.put_nowait(message)

    subscriptions = [await backends.nats.subscribe(s, cb=deliver) for s in subjects]
    try:
        while True:
            message = await queue.get()
            try:
                events = decode_message(kind, message.data, message.headers)
            except ValueError:
                continue
            for event in events:
                if not isinstance(event, InvalidEvent):
                    yield event
    finally:
        for subscription in subscriptions:
            await subscription.unsubscribe()
