"""``history``: stored trades as a Relay-style connection, read through storage's
``StreamTrades``.

Pages are keyed by trade id (keyset pagination): a cursor is an opaque encoding of a trade
id, and the next page is the trades after it, so paging through millions of trades costs
the same per page at the end as at the start, and trades stored meanwhile never shift a
page.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated

import grpc
import strawberry
from strawberry.types import Info

from graph.arguments import symbol_argument, venue_argument
from graph.context import Context
from graph.errors import TypedError, from_rpc_error
from graph.limits import MAX_PAGE_SIZE
from graph.scalars import Int64
from graph.trade import Trade
from graph.windows import window_ms
from quantflow.storage.v1 import storage_service_pb2 as storage_pb
from services.common import names

DEFAULT_PAGE_SIZE = 100
_CURSOR_PREFIX = "trade:"
_RPC_TIMEOUT_S = 30.0


def encode_cursor(trade_id: int) -> str:
    return base64.urlsafe_b64encode(f"{_CURSOR_PREFIX}{trade_id}".encode()).decode()


def decode_cursor(cursor: str) -> int:
    """The trade id a cursor stands for; INVALID_ARGUMENT naming it otherwise."""
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
        if text.startswith(_CURSOR_PREFIX):
            return int(text.removeprefix(_CURSOR_PREFIX))
    except (binascii.Error, UnicodeError, ValueError):
        pass
    raise TypedError(
        "INVALID_ARGUMENT", f"after {cursor!r} is not a cursor: pass an endCursor or cursor"
    )


@strawberry.type(description="One trade and where it lies in the connection.")
class TradeEdge:
    cursor: str = strawberry.field(description="Opaque; pass as `after` to continue here.")
    node: Trade


@strawberry.type(description="Whether a connection goes on, and where.")
class PageInfo:
    has_next_page: bool
    end_cursor: str | None = strawberry.field(
        description="The last edge's cursor; null when the page is empty."
    )


@strawberry.type(description="Stored trades in trade id order, a page at a time.")
class TradeConnection:
    edges: list[TradeEdge]
    page_info: PageInfo


def _page_size(first: int | None) -> int:
    size = DEFAULT_PAGE_SIZE if first is None else first
    if not 0 <= size <= MAX_PAGE_SIZE:
        raise TypedError(
            "INVALID_ARGUMENT", f"first {size}: give 0 to {MAX_PAGE_SIZE} trades a page"
        )
    return size


async def history(
    info: Info[Context, None],
    symbol: str,
    from_: Annotated[
        datetime | None, strawberry.argument(name="from", description="Inclusive.")
    ] = None,
    to: Annotated[datetime | None, strawberry.argument(description="Exclusive.")] = None,
    first: Annotated[
        int | None,
        strawberry.argument(
            description=f"Page size: {DEFAULT_PAGE_SIZE} unless given, at most {MAX_PAGE_SIZE}."
        ),
    ] = None,
    after: Annotated[
        str | None, strawberry.argument(description="A cursor: the page after that trade.")
    ] = None,
    venue: str = names.VENUE_BINANCE,
) -> TradeConnection | None:
    size = _page_size(first)
    first_ms, end_ms = window_ms(from_, to)
    request = storage_pb.StreamTradesRequest(
        symbol=symbol_argument(symbol),
        venue=venue_argument(venue),
        from_ms=first_ms,
        to_ms=end_ms,
        after_trade_id=None if after is None else decode_cursor(after),
        limit=size + 1,  # one beyond the page says whether there is a next one
    )
    trades: list[storage_pb.StoredTrade] = []
    try:
        async for reply in info.context.backends.storage.StreamTrades(
            request, timeout=_RPC_TIMEOUT_S
        ):
            trades.extend(reply.trades)
    except grpc.aio.AioRpcError as error:
        raise from_rpc_error(error, "history") from error
    edges = [
        TradeEdge(
            cursor=encode_cursor(t.trade_id),
            node=Trade(
                venue=t.venue,
                symbol=t.symbol,
                trade_id=Int64(t.trade_id),
                price=t.price,
                quantity=t.quantity,
                trade_time_ms=Int64(t.trade_time_ms),
                buyer_is_maker=t.buyer_is_maker,
            ),
        )
        for t in trades[:size]
    ]
    return TradeConnection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=len(trades) > size,
            end_cursor=edges[-1].cursor if edges else None,
        ),
    )
