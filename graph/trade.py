"""The GraphQL ``Trade``: one trade, live (the ``trades`` subscription) or stored
(``history``)."""

from __future__ import annotations

from datetime import UTC, datetime

import strawberry

from graph.scalars import Int64


@strawberry.type(description="One trade as the exchange reported it.")
class Trade:
    venue: str
    symbol: str
    trade_id: Int64
    price: str = strawberry.field(description="Decimal string.")
    quantity: str = strawberry.field(description="Decimal string.")
    trade_time_ms: Int64 = strawberry.field(description="Exchange time, epoch milliseconds.")
    buyer_is_maker: bool

    @strawberry.field(description="Exchange time of the trade.")
    def trade_time(self) -> datetime:
        return datetime.fromtimestamp(self.trade_time_ms / 1000, tz=UTC)
