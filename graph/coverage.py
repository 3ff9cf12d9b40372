"""``coverage``: what is stored of one series and where its holes are, through storage's
``GetCoverage``."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Annotated

import grpc
import strawberry
from strawberry.types import Info

from graph.arguments import symbol_argument, venue_argument
from graph.context import Context
from graph.errors import TypedError, from_rpc_error
from graph.scalars import Int64
from graph.windows import window_ms
from quantflow.storage.v1 import storage_service_pb2 as storage_pb
from services.common import names

_RPC_TIMEOUT_S = 60.0  # a whole history of a busy symbol is millions of rows to walk


@strawberry.enum(description="Why ids are missing.")
class HoleCause(enum.Enum):
    EXCHANGE = strawberry.enum_value(
        "EXCHANGE", description="Binance has no data there either (an exchange outage)."
    )
    MISSING = strawberry.enum_value("MISSING", description="We lack data Binance has.")


_CAUSES = {
    storage_pb.HOLE_CAUSE_EXCHANGE: HoleCause.EXCHANGE,
    storage_pb.HOLE_CAUSE_MISSING: HoleCause.MISSING,
}


@strawberry.type(description="Consecutive ids, all stored: from … to, both inclusive.")
class CoverageRange:
    from_: Int64 = strawberry.field(name="from")
    to: Int64
    count: Int64 = strawberry.field(description="Rows stored in the range.")


@strawberry.type(description="Ids between two ranges, none stored: from … to, both inclusive.")
class CoverageHole:
    from_: Int64 = strawberry.field(name="from")
    to: Int64
    missing: Int64 = strawberry.field(description="How many ids (klines: candles) are missing.")
    cause: HoleCause


@strawberry.type(
    description="What is stored of one series: ids for trade and aggTrade, open times (epoch "
    "milliseconds) for klines. Holes lie between stored rows only."
)
class Coverage:
    symbol: str
    kind: str
    ranges: list[CoverageRange]
    holes: list[CoverageHole]
    stored: Int64 = strawberry.field(description="Rows in the ranges listed.")
    missing: Int64 = strawberry.field(description="Ids missing in the holes listed.")
    exchange_missing: Int64 = strawberry.field(
        description="Of those, the ids Binance has no data for either."
    )
    truncated: bool = strawberry.field(
        description="True when the series has more ranges than the 10,000 listed."
    )


def bus_kind(kind: str) -> str:
    """``trade``, ``aggTrade`` or ``kline_<interval>`` → storage's kind; INVALID_ARGUMENT
    naming anything else."""
    if kind == "trade":
        return names.TRADE
    if kind in ("aggTrade", names.AGGTRADE):
        return names.AGGTRADE
    if kind.startswith(names.KLINE_PREFIX) and kind != names.kline_kind("1M"):
        try:
            return names.kline_kind(kind.removeprefix(names.KLINE_PREFIX))
        except ValueError as error:
            raise TypedError("INVALID_ARGUMENT", f"kind {kind!r}: {error}") from None
    raise TypedError(
        "INVALID_ARGUMENT",
        f"kind {kind!r}: give trade, aggTrade or kline_<interval> (e.g. kline_1m; not "
        "kline_1M, whose months have no fixed length)",
    )


async def coverage(
    info: Info[Context, None],
    symbol: str,
    kind: Annotated[str, strawberry.argument(description="trade, aggTrade or kline_<interval>.")],
    from_: Annotated[
        datetime | None,
        strawberry.argument(name="from", description="Inclusive (trade or open time)."),
    ] = None,
    to: Annotated[datetime | None, strawberry.argument(description="Exclusive.")] = None,
    venue: str = names.VENUE_BINANCE,
) -> Coverage | None:
    first_ms, end_ms = window_ms(from_, to)
    request = storage_pb.GetCoverageRequest(
        symbol=symbol_argument(symbol),
        venue=venue_argument(venue),
        kind=bus_kind(kind),
        from_ms=first_ms,
        to_ms=end_ms,
    )
    try:
        reply = await info.context.backends.storage.GetCoverage(request, timeout=_RPC_TIMEOUT_S)
    except grpc.aio.AioRpcError as error:
        raise from_rpc_error(error, "coverage") from error
    return Coverage(
        symbol=request.symbol,
        kind=kind,
        ranges=[
            CoverageRange(from_=Int64(r.first_id), to=Int64(r.last_id), count=Int64(r.count))
            for r in reply.ranges
        ],
        holes=[
            CoverageHole(
                from_=Int64(h.first_id),
                to=Int64(h.last_id),
                missing=Int64(h.missing),
                cause=_CAUSES[h.cause],
            )
            for h in reply.holes
        ],
        stored=Int64(reply.stored_count),
        missing=Int64(reply.missing_count),
        exchange_missing=Int64(reply.exchange_missing_count),
        truncated=reply.truncated,
    )
