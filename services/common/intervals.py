"""Kline intervals as steps between open times, and the grid candles open on.

Pure. Binance's UTC candles of every interval but ``1M`` have one length, and their open
times lie on a grid from the epoch (weeks: from a Monday), so a missing candle is a
missing multiple of the step, found and fetched like a missing trade id. ``1M`` candles are
calendar months (UTC): each opens at 00:00 on the 1st, 28 to 31 days after the one before,
so their open times step by :func:`next_open_time`, not by a length.

:class:`SeriesStep` says how the ids of any gap-checked series follow each other (trade and
aggTrade ids by one, kline open times by their interval), so gap detection, backfill and
storage's missing-id search treat every series, months included, alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from services.common import names

_MINUTE_MS = 60_000
_UNIT_MS = {"s": 1_000, "m": _MINUTE_MS, "h": 60 * _MINUTE_MS, "d": 1_440 * _MINUTE_MS}
_DAY_MS = _UNIT_MS["d"]
# Weekly candles open on Mondays at 00:00 UTC; 1970-01-01 was a Thursday.
_WEEK_OFFSET_MS = 4 * _DAY_MS
MONTH = "1M"


class NoFixedStep(ValueError):
    """A kline interval whose candles are not all the same length (1M: calendar months)."""


def kline_step_ms(interval: str) -> int:
    """How far apart consecutive open times of ``interval`` are: ``1m`` → 60,000.

    :class:`NoFixedStep` for ``1M``, whose months run 28 to 31 days: step its open times
    with :func:`next_open_time` (ValueError for an interval Binance does not have)."""
    names.kline_kind(interval)
    if interval == MONTH:
        raise NoFixedStep(
            "kline_1M candles are calendar months of 28 to 31 days, so their open times "
            "have no fixed step; use next_open_time"
        )
    if interval.endswith("w"):
        return int(interval[:-1]) * 7 * _DAY_MS
    return int(interval[:-1]) * _UNIT_MS[interval[-1]]


def _month_of(epoch_ms: int) -> int:
    """Months since January 1970 of the UTC month ``epoch_ms`` lies in."""
    moment = datetime.fromtimestamp(epoch_ms // 1000, UTC)
    return (moment.year - 1970) * 12 + moment.month - 1


def _month_start_ms(month: int) -> int:
    year, month_of_year = divmod(month, 12)
    return int(datetime(1970 + year, month_of_year + 1, 1, tzinfo=UTC).timestamp()) * 1000


def next_open_time(interval: str, open_ms: int) -> int:
    """The open time of the ``interval`` candle after the one opening at ``open_ms``:
    ``open_ms`` plus the step, or for ``1M`` the 1st of the next UTC month."""
    if interval == MONTH:
        return _month_start_ms(_month_of(open_ms) + 1)
    return open_ms + kline_step_ms(interval)


def previous_open_time(interval: str, open_ms: int) -> int:
    """The open time of the ``interval`` candle before the one opening at ``open_ms``."""
    if interval == MONTH:
        return _month_start_ms(_month_of(open_ms) - 1)
    return open_ms - kline_step_ms(interval)


def first_open_at_or_after(interval: str, epoch_ms: int) -> int:
    """The open time of the first ``interval`` candle opening at ``epoch_ms`` or later (UTC
    candles: each interval's grid starts at the epoch, weeks on a Monday, months on the
    1st)."""
    if interval == MONTH:
        start = last_open_at_or_before(MONTH, epoch_ms)
        return start if start == epoch_ms else next_open_time(MONTH, start)
    step = kline_step_ms(interval)
    offset = _WEEK_OFFSET_MS if interval.endswith("w") else 0
    return -(-(epoch_ms - offset) // step) * step + offset


def last_open_at_or_before(interval: str, epoch_ms: int) -> int:
    """The open time of the last ``interval`` candle opening at ``epoch_ms`` or earlier."""
    if interval == MONTH:
        return _month_start_ms(_month_of(epoch_ms))
    step = kline_step_ms(interval)
    offset = _WEEK_OFFSET_MS if interval.endswith("w") else 0
    return (epoch_ms - offset) // step * step + offset


@dataclass(frozen=True, slots=True)
class SeriesStep:
    """How consecutive ids of a series follow each other: by ``size`` (1 for trade and
    aggTrade ids, the interval in milliseconds for kline open times), or, with ``size`` 0,
    by calendar month (``1M`` open times). Ids are assumed to lie on the series' grid."""

    size: int = 1

    @classmethod
    def of_interval(cls, interval: str) -> SeriesStep:
        """The step of ``interval``'s kline open times (ValueError for an unknown one)."""
        return MONTHLY if interval == MONTH else cls(kline_step_ms(interval))

    @property
    def monthly(self) -> bool:
        return self.size == 0

    def after(self, series_id: int) -> int:
        return self.advance(series_id, 1)

    def before(self, series_id: int) -> int:
        return self.advance(series_id, -1)

    def advance(self, series_id: int, count: int) -> int:
        """The id ``count`` steps after ``series_id`` (before it if ``count`` < 0)."""
        if self.monthly:
            return _month_start_ms(_month_of(series_id) + count)
        return series_id + count * self.size

    def count(self, first_id: int, last_id: int) -> int:
        """How many ids ``first_id`` … ``last_id`` (both included) span; 0 if none."""
        if last_id < first_id:
            return 0
        if self.monthly:
            return _month_of(last_id) - _month_of(first_id) + 1
        return (last_id - first_id) // self.size + 1


IDS = SeriesStep(1)
"""Trade and aggTrade ids: consecutive integers."""
MONTHLY = SeriesStep(0)
"""``1M`` kline open times: the 1st of consecutive UTC months."""
