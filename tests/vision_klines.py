"""A tiny reader of data.binance.vision kline CSVs (12 columns, no header, milliseconds):
rows as stored-kline events or as candles, for tests that need real Binance candles."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

from services.common.candles import Candle
from services.common.events import Kline
from tests.conftest import FIXTURES

VISION = FIXTURES / "vision"
USDM_1M = VISION / "usdm" / "BTCUSDT-1m-2022-04-08.csv"
USDM_5M = VISION / "usdm" / "BTCUSDT-5m-2022-04-08.csv"
SPOT_1M = FIXTURES / "ETHUSDT-1m-2022-08-14.csv"


def rows(path: Path) -> list[list[str]]:
    with path.open(newline="") as file:
        return [row for row in csv.reader(file) if row and row[0].isdigit()]


def klines(path: Path, venue: str, symbol: str, interval: str) -> list[Kline]:
    """Each row as the final kline storage would receive from the bus."""
    return [
        Kline(
            venue=venue,
            symbol=symbol,
            interval=interval,
            open_time_ms=int(row[0]),
            close_time_ms=int(row[6]),
            open=row[1],
            high=row[2],
            low=row[3],
            close=row[4],
            volume=row[5],
            quote_volume=row[7],
            trades=int(row[8]),
            first_trade_id=-1,  # the files carry no trade ids
            last_trade_id=-1,
            taker_buy_volume=row[9],
            taker_buy_quote_volume=row[10],
            closed=True,
            event_time_ms=int(row[6]) + 1,
        )
        for row in rows(path)
    ]


def candles(path: Path) -> list[Candle]:
    return [
        Candle(
            open_time=int(row[0]),
            open=Decimal(row[1]),
            high=Decimal(row[2]),
            low=Decimal(row[3]),
            close=Decimal(row[4]),
            volume=Decimal(row[5]),
            quote_volume=Decimal(row[7]),
            trades=int(row[8]),
        )
        for row in rows(path)
    ]
