"""The in-memory latest prices: seeded, then moved forward by committed trades only."""

from __future__ import annotations

import dataclasses

from services.storage.price_cache import LatestPrice, LatestPriceCache
from tests.integration.helpers import trade


def test_a_price_moves_to_the_highest_trade_id_and_never_back() -> None:
    cache = LatestPriceCache([LatestPrice("binance", "BTCUSDT", "1.0", "1.0", 5, 1000)])
    cache.update([trade(3, "3.00"), trade(7, "7.00"), trade(6, "6.00")])
    assert cache.get("binance", "BTCUSDT") == LatestPrice(
        "binance", "BTCUSDT", "7.00", "0.00100000", 7, trade(7).trade_time_ms
    )
    cache.update([trade(4, "4.00")])  # a redelivered, older batch
    held = cache.get("binance", "BTCUSDT")
    assert held is not None and held.price == "7.00"


def test_prices_are_kept_per_venue_and_listed_by_symbol() -> None:
    cache = LatestPriceCache()
    cache.update(
        [
            trade(1, "1.00", "ETHUSDT"),
            trade(2, "2.00"),
            dataclasses.replace(trade(9, "9.00"), venue="binance_usdm"),
        ]
    )
    assert [(p.symbol, p.venue) for p in cache.list()] == [
        ("BTCUSDT", "binance"),
        ("BTCUSDT", "binance_usdm"),
        ("ETHUSDT", "binance"),
    ]
    assert [p.price for p in cache.list(["BTCUSDT"], "binance")] == ["2.00"]
    assert cache.get("binance", "DOGEUSDT") is None
