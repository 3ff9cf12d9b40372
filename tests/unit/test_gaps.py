"""Gap detection over consecutive exchange ids."""

from __future__ import annotations

from services.common.events import Kline
from services.common.intervals import MONTHLY, SeriesStep
from services.ingest.backfill import series_of
from services.ingest.gaps import Gap, GapDetector, OpenGaps, SeriesKey

BTC = SeriesKey("binance", "BTCUSDT", "trade")
ETH = SeriesKey("binance", "ETHUSDT", "trade")


def test_consecutive_ids_open_no_gap() -> None:
    detector = GapDetector()
    assert [detector.observe(BTC, i) for i in range(100, 105)] == [None] * 5


def test_a_jump_opens_the_gap_between_the_last_id_and_the_new_one() -> None:
    detector = GapDetector()
    detector.observe(BTC, 100)
    assert detector.observe(BTC, 105) == Gap(BTC, 101, 104)
    assert detector.observe(BTC, 106) is None


def test_overlap_and_old_ids_open_nothing_and_do_not_move_the_series_back() -> None:
    detector = GapDetector()
    detector.observe(BTC, 100)
    assert detector.observe(BTC, 50) is None
    assert detector.observe(BTC, 100) is None
    assert detector.observe(BTC, 101) is None
    assert detector.highest(BTC) == 101


def test_series_are_independent_per_symbol() -> None:
    detector = GapDetector()
    detector.observe(BTC, 100)
    assert detector.observe(ETH, 7) is None
    assert detector.observe(ETH, 9) == Gap(ETH, 8, 8)
    assert detector.observe(BTC, 101) is None


def test_resuming_after_a_stored_id_finds_the_hole_up_to_the_first_live_id() -> None:
    detector = GapDetector()
    detector.resume(BTC, 1_000)
    assert detector.observe(BTC, 1_500) == Gap(BTC, 1_001, 1_499)


def test_a_step_counts_series_ids_that_grow_by_more_than_one() -> None:
    minute = 60_000
    kline = SeriesKey("binance", "BTCUSDT", "kline_1m")
    detector = GapDetector()
    detector.observe(kline, 0, step=SeriesStep(minute))
    assert detector.observe(kline, minute, step=SeriesStep(minute)) is None
    assert detector.observe(kline, 4 * minute, step=SeriesStep(minute)) == Gap(
        kline, 2 * minute, 3 * minute
    )


def test_open_gaps_lists_what_is_not_settled_oldest_first() -> None:
    book = OpenGaps()
    late, early = Gap(BTC, 50, 60), Gap(BTC, 10, 20)
    book.opened(late)
    book.opened(early)
    assert book.list() == [early, late]
    book.settled(early)
    assert book.list() == [late] and len(book) == 1


def _kline(open_ms: int, closed: bool, interval: str = "1m") -> Kline:
    return Kline(
        venue="binance",
        symbol="ETHUSDT",
        interval=interval,
        open_time_ms=open_ms,
        close_time_ms=open_ms + 59_999,
        open="1",
        high="2",
        low="1",
        close="2",
        volume="1",
        quote_volume="1",
        trades=1,
        first_trade_id=-1,
        last_trade_id=-1,
        taker_buy_volume="1",
        taker_buy_quote_volume="1",
        closed=closed,
        event_time_ms=open_ms + 30_000,
    )


def test_only_final_klines_advance_their_series() -> None:
    minute = 60_000
    key = SeriesKey("binance", "ETHUSDT", "kline_1m")
    assert series_of(_kline(10 * minute, closed=True)) == (key, 10 * minute, SeriesStep(minute))
    # An update of the open candle repeats its open time: no id of the series.
    assert series_of(_kline(11 * minute, closed=False)) is None
    detector = GapDetector()
    for open_ms, closed in ((0, True), (minute, False), (minute, True), (4 * minute, True)):
        series = series_of(_kline(open_ms, closed))
        if series is not None:
            found = detector.observe(*series)
    assert found == Gap(key, 2 * minute, 3 * minute)


def test_a_missing_calendar_month_of_monthly_klines_is_a_gap_of_those_months() -> None:
    # 2024: January and February, then May; March and April (31 and 30 days) are missing.
    jan, feb, mar, apr, may = (
        1704067200000,
        1706745600000,
        1709251200000,
        1711929600000,
        1714521600000,
    )
    key = SeriesKey("binance", "ETHUSDT", "kline_1M")
    detector = GapDetector()
    found = [
        detector.observe(*series)
        for open_ms in (jan, feb, feb, may)
        if (series := series_of(_kline(open_ms, closed=True, interval="1M"))) is not None
    ]
    assert series_of(_kline(jan, closed=True, interval="1M")) == (key, jan, MONTHLY)
    assert found == [None, None, None, Gap(key, mar, apr)]
