"""Bars for the backtest tests: real Binance klines from tests/fixtures, and seeded random walks."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from services.backtest.bars import Bars

FIXTURES = Path(__file__).parents[2] / "fixtures" / "binance"
# Real klines (provenance: tests/fixtures/binance/SOURCES.md and vision/SOURCES.md):
# a USDⓈ-M futures month of 5m candles, a futures day and a spot day of 1m candles.
REAL_KLINES = {
    "BTCUSDT-5m-2022-04": (FIXTURES / "vision" / "usdm" / "BTCUSDT-5m-2022-04.zip", 300),
    "BTCUSDT-1m-2022-05-05": (FIXTURES / "vision" / "usdm" / "BTCUSDT-1m-2022-05-05.zip", 60),
    "ETHUSDT-1m-2022-08-14": (FIXTURES / "ETHUSDT-1m-2022-08-14.csv", 60),
}


def real_bars(name: str) -> Bars:
    """A fixture's klines as bars (12-column data.binance.vision layout, no header)."""
    path, interval = REAL_KLINES[name]
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as archive:
            text = archive.read(archive.namelist()[0]).decode()
    else:
        text = path.read_text()
    table = np.loadtxt(io.StringIO(text), delimiter=",", usecols=range(6))
    return Bars.from_columns(table[:, 0], *table[:, 1:6].T, interval_seconds=interval)


def random_walk(bars: int, seed: int, *, step: float = 0.002, start: float = 100.0) -> Bars:
    """Seeded log-normal random-walk candles with gaps between close and next open."""
    rng = np.random.default_rng(seed)
    close = start * np.exp(np.cumsum(rng.normal(0.0, step, bars)))
    open_ = np.concatenate(([start], close[:-1])) * np.exp(rng.normal(0.0, step / 4, bars))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0.0, step / 2, bars)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0.0, step / 2, bars)))
    return Bars.from_columns(
        np.arange(bars) * 60_000,
        open_,
        high,
        low,
        close,
        rng.uniform(1, 10, bars),
        interval_seconds=60,
    )


def bars_from_closes(
    closes: Sequence[float],
    opens: Sequence[float] | None = None,
    highs: Sequence[float] | None = None,
    lows: Sequence[float] | None = None,
    *,
    interval_seconds: float = 86_400,
) -> Bars:
    """Small hand-made bars: opens default to the closes, highs/lows to max/min(open, close)."""
    close = np.asarray(closes, dtype=np.float64)
    open_ = close.copy() if opens is None else np.asarray(opens, dtype=np.float64)
    high = np.maximum(open_, close) if highs is None else np.asarray(highs, dtype=np.float64)
    low = np.minimum(open_, close) if lows is None else np.asarray(lows, dtype=np.float64)
    return Bars.from_columns(
        np.arange(len(close)) * 86_400_000,
        open_,
        high,
        low,
        close,
        interval_seconds=interval_seconds,
    )
