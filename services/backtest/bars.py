"""Candles as columns of numbers, and the indicators computed over them, each at most once.

Pure (numpy only). A backtest, an optimisation and a walk-forward window all read the same
:class:`Bars`; :class:`Indicators` remembers every indicator it computed, so a grid of 90
parameter sets computes each moving average once, not 90 times.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from services.backtest import indicators

Array = npt.NDArray[np.float64]
T = TypeVar("T")

SECONDS_PER_YEAR = 365 * 24 * 3600  # crypto trades every day


@dataclass(frozen=True, eq=False)
class Bars:
    """Candles in time order: open times (epoch ms) and float64 prices, one entry a bar.

    ``interval_seconds`` is the candle length; metrics annualise by it.
    """

    time: npt.NDArray[np.int64]
    open: Array
    high: Array
    low: Array
    close: Array
    volume: Array
    interval_seconds: float

    def __post_init__(self) -> None:
        lengths = {
            len(column)
            for column in (self.time, self.open, self.high, self.low, self.close, self.volume)
        }
        if len(lengths) != 1:
            raise ValueError(f"bar columns differ in length: {sorted(lengths)}")
        if self.interval_seconds <= 0:
            raise ValueError(f"interval_seconds must be positive, got {self.interval_seconds}")

    def __len__(self) -> int:
        return len(self.close)

    @property
    def periods_per_year(self) -> float:
        return SECONDS_PER_YEAR / self.interval_seconds

    def slice(self, start: int, stop: int) -> Bars:
        """Bars [start, stop) — views, no copies."""
        return Bars(
            self.time[start:stop],
            self.open[start:stop],
            self.high[start:stop],
            self.low[start:stop],
            self.close[start:stop],
            self.volume[start:stop],
            self.interval_seconds,
        )

    @classmethod
    def from_columns(
        cls,
        time: npt.ArrayLike,
        open: npt.ArrayLike,
        high: npt.ArrayLike,
        low: npt.ArrayLike,
        close: npt.ArrayLike,
        volume: npt.ArrayLike | None = None,
        *,
        interval_seconds: float,
    ) -> Bars:
        prices = [
            np.ascontiguousarray(column, dtype=np.float64) for column in (open, high, low, close)
        ]
        volumes = (
            np.zeros(len(prices[3]))
            if volume is None
            else np.ascontiguousarray(volume, dtype=np.float64)
        )
        return cls(
            np.ascontiguousarray(time, dtype=np.int64),
            prices[0],
            prices[1],
            prices[2],
            prices[3],
            volumes,
            interval_seconds=interval_seconds,
        )


@dataclass(eq=False)
class Indicators:
    """The indicators of one :class:`Bars`, each computed on first use and then remembered."""

    bars: Bars
    _memo: dict[tuple[object, ...], object] = field(default_factory=dict, repr=False)

    def _remember(self, key: tuple[object, ...], compute: Callable[[], T]) -> T:
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]  # type: ignore[return-value]

    def sma(self, window: int) -> Array:
        close = self.bars.close
        sums = self._remember(("running sums",), lambda: indicators.running_sums(close))
        first = float(close[0]) if len(close) else 0.0
        return self._remember(
            ("sma", window), lambda: indicators.sma_from_sums(sums, first, window)
        )

    def ema(self, window: int) -> Array:
        return self._remember(("ema", window), lambda: indicators.ema(self.bars.close, window))

    def rsi(self, window: int) -> Array:
        return self._remember(("rsi", window), lambda: indicators.rsi(self.bars.close, window))

    def macd(self, fast: int, slow: int, signal: int) -> tuple[Array, Array]:
        return self._remember(
            ("macd", fast, slow, signal),
            lambda: indicators.macd(self.bars.close, fast, slow, signal),
        )

    def bollinger(self, window: int, deviations: float) -> tuple[Array, Array, Array]:
        return self._remember(
            ("bollinger", window, deviations),
            lambda: indicators.bollinger(self.bars.close, window, deviations),
        )

    def donchian(self, window: int) -> tuple[Array, Array]:
        return self._remember(
            ("donchian", window),
            lambda: indicators.donchian(self.bars.high, self.bars.low, window),
        )
