"""Kline intervals as lengths of time: how far apart consecutive candles open.

Pure. Binance's UTC candles of every interval but ``1M`` have one length, and their open
times lie on a grid from the epoch (weeks: from a Monday), so a missing candle is a
missing multiple of the step, found and fetched like a missing trade id.
"""

from __future__ import annotations

from services.common import names

_MINUTE_MS = 60_000
_UNIT_MS = {"s": 1_000, "m": _MINUTE_MS, "h": 60 * _MINUTE_MS, "d": 1_440 * _MINUTE_MS}
_DAY_MS = _UNIT_MS["d"]
# Weekly candles open on Mondays at 00:00 UTC; 1970-01-01 was a Thursday.
_WEEK_OFFSET_MS = 4 * _DAY_MS


class NoFixedStep(ValueError):
    """A kline interval whose candles are not all the same length (1M: calendar months)."""


def kline_step_ms(interval: str) -> int:
    """How far apart consecutive open times of ``interval`` are: ``1m`` → 60,000.

    :class:`NoFixedStep` for ``1M``, whose months run 28 to 31 days: its gaps are not found
    or filled by id arithmetic (ValueError for an interval Binance does not have)."""
    names.kline_kind(interval)
    if interval == "1M":
        raise NoFixedStep(
            "kline_1M candles are calendar months of 28 to 31 days, so their open times "
            "have no fixed step; use kline_1d or shorter for gap filling and backfill"
        )
    if interval.endswith("w"):
        return int(interval[:-1]) * 7 * _DAY_MS
    return int(interval[:-1]) * _UNIT_MS[interval[-1]]


def first_open_at_or_after(interval: str, epoch_ms: int) -> int:
    """The open time of the first ``interval`` candle opening at ``epoch_ms`` or later (UTC
    candles: each interval's grid starts at the epoch, weeks on a Monday)."""
    step = kline_step_ms(interval)
    offset = _WEEK_OFFSET_MS if interval.endswith("w") else 0
    return -(-(epoch_ms - offset) // step) * step + offset


def last_open_at_or_before(interval: str, epoch_ms: int) -> int:
    """The open time of the last ``interval`` candle opening at ``epoch_ms`` or earlier."""
    step = kline_step_ms(interval)
    offset = _WEEK_OFFSET_MS if interval.endswith("w") else 0
    return (epoch_ms - offset) // step * step + offset
