"""Runs, holes and their causes: the arithmetic behind coverage and ListMissingIds."""

from __future__ import annotations

from services.common.intervals import IDS, MONTHLY, SeriesStep
from services.storage.coverage import (
    Cause,
    Coverage,
    Hole,
    Run,
    classify,
    holes_between,
    missing_in,
)

MINUTE = 60_000
MINUTES = SeriesStep(MINUTE)


def test_holes_between_runs_are_the_ids_neither_run_holds() -> None:
    runs = [Run(10, 14, 5), Run(16, 20, 5), Run(21, 22, 2), Run(30, 30, 1)]
    assert holes_between(runs, IDS) == [Hole(15, 15, 1), Hole(23, 29, 7)]


def test_kline_holes_count_candles_not_milliseconds() -> None:
    runs = [Run(0, 2 * MINUTE, 3), Run(6 * MINUTE, 9 * MINUTE, 4)]
    assert holes_between(runs, MINUTES) == [Hole(3 * MINUTE, 5 * MINUTE, 3)]


def test_missing_in_a_range_includes_its_edges() -> None:
    runs = [Run(10, 19, 10), Run(25, 29, 5), Run(40, 40, 1)]
    assert missing_in(runs, 5, 45, IDS) == [(5, 9), (20, 24), (30, 39), (41, 45)]
    assert missing_in([], 0, 0, IDS) == [(0, 0)]
    assert missing_in([Run(10, 19, 10)], 10, 19, IDS) == []


def test_missing_in_says_nothing_past_the_last_run_when_runs_were_cut_short() -> None:
    assert missing_in([Run(10, 19, 10)], 0, 100, IDS, complete=False) == [(0, 9)]


def test_a_hole_is_split_where_it_meets_known_exchange_holes() -> None:
    holes = [Hole(100, 199, 100), Hole(300, 300, 1)]
    known = [(150, 159), (120, 129), (190, 260)]
    assert classify(holes, known, IDS) == [
        Hole(100, 119, 20, Cause.MISSING),
        Hole(120, 129, 10, Cause.EXCHANGE),
        Hole(130, 149, 20, Cause.MISSING),
        Hole(150, 159, 10, Cause.EXCHANGE),
        Hole(160, 189, 30, Cause.MISSING),
        Hole(190, 199, 10, Cause.EXCHANGE),
        Hole(300, 300, 1, Cause.MISSING),
    ]


def test_a_hole_that_is_exactly_a_known_exchange_hole_is_one_exchange_hole() -> None:
    hole = Hole(600 * MINUTE, 619 * MINUTE, 20)
    assert classify([hole], [(600 * MINUTE, 619 * MINUTE)], MINUTES) == [
        Hole(600 * MINUTE, 619 * MINUTE, 20, Cause.EXCHANGE)
    ]


def test_coverage_totals_count_rows_and_missing_ids_by_cause() -> None:
    coverage = Coverage(
        [Run(0, 9, 10), Run(20, 29, 10)],
        [Hole(10, 14, 5, Cause.MISSING), Hole(15, 19, 5, Cause.EXCHANGE)],
    )
    assert (coverage.stored, coverage.missing(), coverage.missing(Cause.EXCHANGE)) == (20, 10, 5)


def test_monthly_holes_and_missing_ranges_count_calendar_months() -> None:
    # 2023-11 … 2023-12 stored, then 2024-03: January and February 2024 are missing.
    nov, dec, jan, feb, mar, apr = (
        1698796800000,
        1701388800000,
        1704067200000,
        1706745600000,
        1709251200000,
        1711929600000,
    )
    runs = [Run(nov, dec, 2), Run(mar, mar, 1)]
    assert holes_between(runs, MONTHLY) == [Hole(jan, feb, 2)]
    assert missing_in(runs, nov, apr, MONTHLY) == [(jan, feb), (apr, apr)]
