"""Candles of any Binance interval built from finer ones, with Binance's own semantics.

Pure: no I/O. Binance's UTC candles of a fixed-length interval open on a grid from the
epoch (weeks from a Monday, 00:00 UTC); ``1M`` candles open on the first of each calendar
month. A candle built from finer ones (or from trades) takes the open of its first, the
highest high, the lowest low, the close of its last, and the sums of volume, quote volume
and trade count. A bucket with no data is absent, never a zero candle.

Storage aggregates in SQL for speed (``services.storage.candle_queries``); :func:`aggregate`
is the same rule in Python, the reference the SQL is tested against.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from services.common import names
from services.common.intervals import first_open_at_or_after, kline_step_ms, last_open_at_or_before

MONTH = "1M"
_DAY_MS = 86_400_000


def check_interval(interval: str) -> str:
    """``interval`` if Binance has it (``1s`` … ``1d``, ``3d``, ``1w``, ``1M``), else
    ValueError naming it."""
    names.kline_kind(interval)
    return interval


def _month_index(epoch_ms: int) -> int:
    moment = datetime.fromtimestamp(epoch_ms // 1000, tz=UTC)
    return moment.year * 12 + moment.month - 1


def _month_start(index: int) -> int:
    return int(datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC).timestamp()) * 1000


def bucket_open(interval: str, epoch_ms: int) -> int:
    """The open time of the ``interval`` candle holding the moment ``epoch_ms``."""
    if interval == MONTH:
        return _month_start(_month_index(epoch_ms))
    return last_open_at_or_before(interval, epoch_ms)


def next_open(interval: str, open_ms: int) -> int:
    """The open time of the candle after the one opening at ``open_ms``."""
    if interval == MONTH:
        return _month_start(_month_index(open_ms) + 1)
    return open_ms + kline_step_ms(interval)


def first_open_from(interval: str, epoch_ms: int) -> int:
    """The open time of the first ``interval`` candle opening at ``epoch_ms`` or later."""
    if interval == MONTH:
        start = bucket_open(MONTH, epoch_ms)
        return start if start == epoch_ms else next_open(MONTH, start)
    return first_open_at_or_after(interval, epoch_ms)


def source_range(interval: str, from_ms: int, to_ms: int) -> tuple[int, int]:
    """The moments [start, end) whose data builds the candles opening in [from_ms, to_ms).

    A candle belongs to a range when its open time does (as Binance's ``startTime`` /
    ``endTime``), and is always whole: the last one is built from its data past ``to_ms``
    too, so a chart's last candle never looks cut short."""
    return first_open_from(interval, from_ms), first_open_from(interval, to_ms)


def _grid(interval: str) -> tuple[int, int]:
    """(step, offset) of a fixed-length interval's open times."""
    offset = 4 * _DAY_MS if interval.endswith("w") else 0
    return kline_step_ms(interval), offset


def divides(finer: str, coarser: str) -> bool:
    """Whether every ``coarser`` candle is exactly a run of whole ``finer`` candles."""
    if finer == MONTH:
        return coarser == MONTH
    step, offset = _grid(finer)
    if coarser == MONTH:
        return _DAY_MS % step == 0  # months start at midnight
    coarse_step, coarse_offset = _grid(coarser)
    return coarse_step % step == 0 and (coarse_offset - offset) % step == 0


def finer_sources(interval: str) -> list[str]:
    """The kline intervals a candle of ``interval`` can be built from: itself first, then
    every strictly finer interval that divides it, coarsest first (fewest rows to read)."""
    check_interval(interval)
    finer = [
        other for other in names.KLINE_INTERVALS if other != interval and divides(other, interval)
    ]
    return [interval, *sorted(finer, key=lambda other: -kline_step_ms(other))]


def covered_ms(interval: str, first_open: int, last_open: int) -> int:
    """How much time stored ``interval`` candles cover, from the open of the first to the
    close of the last (holes between them are not looked for: that would mean counting
    every row, and a hole stays a hole whatever the source)."""
    return next_open(interval, last_open) - first_open


def choose_source(interval: str, covered: Mapping[str, int]) -> str:
    """What ``interval`` candles are built from, given how much of their source range the
    stored klines of each interval cover (ms, see :func:`covered_ms`): the interval
    covering the most (itself, or the coarsest of equals: the fewest rows to read), as
    ``kline_<interval>``; trades when no usable kline is stored."""
    best = max(finer_sources(interval), key=lambda other: covered.get(other, 0))
    return names.kline_kind(best) if covered.get(best, 0) > 0 else names.TRADE


@dataclass(frozen=True)
class Candle:
    """One candle: open time in epoch milliseconds, prices and volumes exact decimals."""

    open_time: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    quote_volume: Decimal
    trades: int


def aggregate(interval: str, candles: Iterable[Candle]) -> Iterator[Candle]:
    """Finer candles, in open-time order, merged into ``interval`` candles (Binance's rule)."""
    current: Candle | None = None
    for candle in candles:
        bucket = bucket_open(interval, candle.open_time)
        if current is None or current.open_time != bucket:
            if current is not None:
                yield current
            current = Candle(
                bucket,
                candle.open,
                candle.high,
                candle.low,
                candle.close,
                candle.volume,
                candle.quote_volume,
                candle.trades,
            )
            continue
        current = Candle(
            bucket,
            current.open,
            max(current.high, candle.high),
            min(current.low, candle.low),
            candle.close,
            current.volume + candle.volume,
            current.quote_volume + candle.quote_volume,
            current.trades + candle.trades,
        )
    if current is not None:
        yield current
