"""Coarser candles built from closed 1m klines (services/alerts/candle_builder.py), checked
against Binance's real 1m candles grouped here by hand."""

from __future__ import annotations

from decimal import Decimal

from services.alerts.candle_builder import CandleBuilder, built_from_minutes
from services.common.candles import Candle
from tests.vision_klines import SPOT_1M, candles

MINUTES = candles(SPOT_1M)  # ETHUSDT, 2022-08-14, 1440 minutes


def _by_hand(
    minutes: list[Candle], size: int
) -> list[tuple[int, Decimal, Decimal, Decimal, Decimal, Decimal]]:
    """(open time, open, high, low, close, volume) of each run of ``size`` minutes."""
    runs = [minutes[i : i + size] for i in range(0, len(minutes), size)]
    return [
        (
            run[0].open_time,
            run[0].open,
            max(m.high for m in run),
            min(m.low for m in run),
            run[-1].close,
            sum((m.volume for m in run), Decimal(0)),
        )
        for run in runs
    ]


def _shape(candle: Candle) -> tuple[int, Decimal, Decimal, Decimal, Decimal, Decimal]:
    return (candle.open_time, candle.open, candle.high, candle.low, candle.close, candle.volume)


def _feed(builder: CandleBuilder, minutes: list[Candle]) -> dict[str, list[Candle]]:
    built: dict[str, list[Candle]] = {}
    for minute in minutes:
        for interval, candle in builder.on_minute("binance", "ETHUSDT", minute):
            built.setdefault(interval, []).append(candle)
    return built


def test_5m_15m_and_1h_candles_close_with_their_last_minute() -> None:
    builder = CandleBuilder()
    for interval in ("5m", "15m", "1h"):
        assert builder.want("binance", "ETHUSDT", interval)
    built = _feed(builder, MINUTES)
    for interval, size in (("5m", 5), ("15m", 15), ("1h", 60)):
        assert [_shape(c) for c in built[interval]] == _by_hand(MINUTES, size)


def test_minutes_delivered_twice_are_merged_once() -> None:
    builder = CandleBuilder()
    builder.want("binance", "ETHUSDT", "5m")
    built = _feed(builder, [*MINUTES[:7], *MINUTES[3:10]])
    assert [_shape(c) for c in built["5m"]] == _by_hand(MINUTES[:10], 5)


def test_a_candle_joined_mid_way_is_dropped_unless_seeded() -> None:
    cold = CandleBuilder()
    cold.want("binance", "ETHUSDT", "5m")
    assert [_shape(c) for c in _feed(cold, MINUTES[2:10])["5m"]] == _by_hand(MINUTES[5:10], 5)

    seeded = CandleBuilder()
    seeded.resume("binance", "ETHUSDT", MINUTES[1].open_time)
    seeded.want("binance", "ETHUSDT", "5m")
    assert seeded.pending_since("binance", "ETHUSDT", "5m") == (
        MINUTES[0].open_time,
        MINUTES[2].open_time,
    )
    seeded.seed("binance", "ETHUSDT", "5m", MINUTES[:2])
    assert [_shape(c) for c in _feed(seeded, MINUTES[2:10])["5m"]] == _by_hand(MINUTES[:10], 5)


def test_a_candle_missing_its_last_minute_closes_with_the_next_ones_first() -> None:
    builder = CandleBuilder()
    builder.want("binance", "ETHUSDT", "5m")
    gap = [*MINUTES[:4], *MINUTES[5:7]]  # minute 4 never comes
    (closed,) = _feed(builder, gap)["5m"]
    assert _shape(closed) == _by_hand(MINUTES[:4], 4)[0]


def test_only_intervals_coarser_than_a_minute_are_built() -> None:
    assert built_from_minutes("1h") and built_from_minutes("1w") and built_from_minutes("1M")
    assert not built_from_minutes("1m") and not built_from_minutes("1s")
