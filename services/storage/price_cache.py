"""The latest price of every symbol, in memory: what ``price``/``prices`` answer from.

Seeded once at start-up from the ``latest_prices`` table (one row per venue and symbol,
kept by every trade batch), then moved forward by the consumer after each committed trade
batch, so a price read never touches PostgreSQL. A price only moves to a higher trade id:
a redelivered or late batch never moves it back.

Each storage process sees its own commits: with several storage workers on one durable
consumer, each worker's cache lags by what the others commit until it restarts. One worker
per database (the default) sees everything.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from services.common.trades import Trade


@dataclass(frozen=True, slots=True)
class LatestPrice:
    venue: str
    symbol: str
    price: str
    quantity: str
    trade_id: int
    trade_time_ms: int


class LatestPriceCache:
    def __init__(self, seed: Iterable[LatestPrice] = ()) -> None:
        self._prices: dict[tuple[str, str], LatestPrice] = {}
        self._offer(seed)

    def update(self, trades: Sequence[Trade]) -> None:
        """Note a committed batch of trades."""
        self._offer(
            LatestPrice(t.venue, t.symbol, t.price, t.quantity, t.trade_id, t.trade_time_ms)
            for t in trades
        )

    def _offer(self, prices: Iterable[LatestPrice]) -> None:
        for price in prices:
            key = (price.venue, price.symbol)
            held = self._prices.get(key)
            if held is None or held.trade_id < price.trade_id:
                self._prices[key] = price

    def get(self, venue: str, symbol: str) -> LatestPrice | None:
        return self._prices.get((venue, symbol))

    def list(self, symbols: Sequence[str] = (), venue: str | None = None) -> list[LatestPrice]:
        """Empty ``symbols``: every symbol; ``None`` venue: every venue; sorted by symbol,
        then venue."""
        wanted = set(symbols)
        return sorted(
            (
                price
                for (price_venue, symbol), price in self._prices.items()
                if (not wanted or symbol in wanted) and (venue is None or price_venue == venue)
            ),
            key=lambda price: (price.symbol, price.venue),
        )
