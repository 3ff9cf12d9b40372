"""What alert rules must fire on, computed from the raw fixture files without QuantFlow's code:
the capture's trades read with ``gzip`` and ``json``, kline rows with ``csv``, RSI with the
`ta` library and SMA with numpy. The acceptance tests hold the alerts service to these."""

from __future__ import annotations

import csv
import gzip
import io
import itertools
import json
import zipfile
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import ta


@dataclass(frozen=True)
class RawTrade:
    trade_id: int
    price: Decimal
    time_ms: int


@dataclass(frozen=True)
class RawCandle:
    open_time_ms: int
    close: Decimal


def capture_trades(path: Path, symbol: str = "BTCUSDT") -> list[RawTrade]:
    """The ``<symbol>@trade`` messages of an hftbacktest capture (``<ns> <json>`` lines),
    in trade id order."""
    trades = []
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        for line in lines:
            message = json.loads(line.split(" ", 1)[1])
            data = message.get("data")
            if message.get("stream") == f"{symbol.lower()}@trade":
                trades.append(RawTrade(int(data["t"]), Decimal(data["p"]), int(data["T"])))
    return sorted(trades, key=lambda trade: trade.trade_id)


def crossings_above(trades: list[RawTrade], level: Decimal) -> list[RawTrade]:
    """The trades whose price is above ``level`` while the trade before was at or below it."""
    return [
        trade for before, trade in itertools.pairwise(trades) if before.price <= level < trade.price
    ]


def kline_rows(path: Path) -> list[list[str]]:
    """The rows of a data.binance.vision kline file (``.zip`` or ``.csv``, no header)."""
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as archive:
            (member,) = archive.namelist()
            text = archive.read(member).decode()
    else:
        text = path.read_text()
    return [row for row in csv.reader(io.StringIO(text)) if row and row[0].isdigit()]


def candles(path: Path) -> list[RawCandle]:
    return [RawCandle(int(row[0]), Decimal(row[4])) for row in kline_rows(path)]


def _rising_edges(holds: np.ndarray) -> list[int]:
    """Indices where a condition holds and did not at the index before (the first index
    only sets the state: it never fires)."""
    return [i for i in range(1, len(holds)) if holds[i] and not holds[i - 1]]


def rsi_below(candles: list[RawCandle], window: int, level: float) -> tuple[list[int], float]:
    """Where ``rsi(window) < level`` turns true (RSI by `ta`, undefined before its warm-up
    counts as false), and the smallest distance of any defined RSI from ``level``: a
    margin far above float noise means any correct RSI implementation agrees."""
    close = pd.Series([float(c.close) for c in candles])
    rsi = ta.momentum.RSIIndicator(close, window=window, fillna=False).rsi().to_numpy()
    holds = np.where(np.isnan(rsi), False, rsi < level)
    return _rising_edges(holds), float(np.nanmin(np.abs(rsi - level)))


def close_crosses_above_sma(candles: list[RawCandle], window: int) -> tuple[list[int], float]:
    """Where the close is above its ``window``-candle simple mean while the candle before was
    at or below its own (numpy; no mean before ``window`` candles), and the smallest
    |close − mean|."""
    close = np.array([float(c.close) for c in candles])
    sma = np.full(len(close), np.nan)
    windows = np.lib.stride_tricks.sliding_window_view(close, window)
    sma[window - 1 :] = windows.mean(axis=1)
    crosses = [
        i
        for i in range(1, len(close))
        if not np.isnan(sma[i - 1]) and close[i - 1] <= sma[i - 1] and close[i] > sma[i]
    ]
    return crosses, float(np.nanmin(np.abs(close - sma)))
