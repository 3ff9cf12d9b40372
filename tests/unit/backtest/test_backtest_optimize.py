"""Grid and random search under constraints, and walk-forward windows."""

from __future__ import annotations

import numpy as np
import pytest

from services.backtest import metrics
from services.backtest.bars import Indicators
from services.backtest.engine import Settings, simulate
from services.backtest.optimize import (
    Constraint,
    ParamRange,
    WalkForward,
    grid,
    random_sets,
    search,
    walk_forward,
)
from services.backtest.strategies import get
from services.common.errors import InvalidArgument
from tests.unit.backtest.market import random_walk, real_bars

SMA = get("sma_cross")
ISSUE_GRID = [ParamRange("fast", 5, 50, 5), ParamRange("slow", 20, 200, 20)]


def test_the_issue_grid_has_90_sets_with_fast_below_slow() -> None:
    bars = random_walk(5_000, 2)
    result = search(
        bars,
        SMA,
        Settings(),
        grid(ISSUE_GRID),
        objective="totalReturn",
        constraints=[Constraint.parse("fast < slow")],
    )
    assert len(result.rows) == 90
    assert result.skipped == 10
    assert all(row.params["fast"] < row.params["slow"] for row in result.rows)
    scores = [row.score for row in result.rows if row.score is not None]
    assert scores == sorted(scores, reverse=True)


def test_each_row_equals_a_single_run_of_its_parameters() -> None:
    bars = real_bars("BTCUSDT-5m-2022-04")
    result = search(
        bars,
        SMA,
        Settings(),
        grid(ISSUE_GRID),
        objective="sharpe",
        constraints=[Constraint.parse("fast < slow")],
    )
    for row in (result.rows[0], result.rows[-1]):
        alone = simulate(bars, *SMA.signals(Indicators(bars), row.params), Settings())
        assert row.final_equity == alone.final_equity
        assert row.metrics == metrics.compute(alone, bars)


def test_the_strategys_own_rules_skip_sets_even_without_constraints() -> None:
    result = search(
        random_walk(500, 1),
        SMA,
        Settings(),
        grid([ParamRange("fast", 10, 30, 10), ParamRange("slow", 10, 30, 10)]),
    )
    assert len(result.rows) == 3  # (10, 20), (10, 30), (20, 30)
    assert result.skipped == 6


def test_minimised_objectives_rank_the_smallest_first() -> None:
    result = search(
        random_walk(3_000, 4),
        SMA,
        Settings(),
        grid(ISSUE_GRID),
        objective="maxDrawdown",
        constraints=[Constraint.parse("fast < slow")],
    )
    drawdowns = [row.metrics.max_drawdown for row in result.rows]
    assert drawdowns == sorted(drawdowns)


def test_random_search_is_seeded_distinct_in_range_and_within_budget() -> None:
    ranges = [ParamRange("fast", 2, 50), ParamRange("slow", 20, 200, 10)]
    first = list(random_sets(ranges, SMA, 25, seed=7))
    assert first == list(random_sets(ranges, SMA, 25, seed=7))
    assert first != list(random_sets(ranges, SMA, 25, seed=8))
    assert len(first) == 25
    assert len({tuple(sets.values()) for sets in first}) == 25
    assert all(2 <= s["fast"] <= 50 and s["fast"] == int(s["fast"]) for s in first)
    assert all(s["slow"] in range(20, 201, 10) for s in first)


def test_random_search_stops_when_the_space_is_smaller_than_the_budget() -> None:
    assert len(list(random_sets([ParamRange("fast", 1, 3, 1)], SMA, 50, seed=1))) == 3


def test_progress_reports_each_set_in_order_and_raising_stops_the_search() -> None:
    seen: list[tuple[int, int]] = []
    search(
        random_walk(500, 1),
        SMA,
        Settings(),
        grid(ISSUE_GRID),
        constraints=[Constraint.parse("fast < slow")],
        progress=lambda done, total: seen.append((done, total)),
    )
    assert seen == [(index, 90) for index in range(1, 91)]

    class Cancelled(Exception):
        pass

    def cancel_at_five(done: int, total: int) -> None:
        if done == 5:
            raise Cancelled

    with pytest.raises(Cancelled):
        search(random_walk(500, 1), SMA, Settings(), grid(ISSUE_GRID), progress=cancel_at_five)


@pytest.mark.parametrize(
    ("text", "message"),
    [("fast <", "must read"), ("fast ~ slow", "must read"), ("fast < window", "no parameter")],
)
def test_bad_constraints_are_named(text: str, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        search(
            random_walk(100, 1),
            SMA,
            Settings(),
            grid(ISSUE_GRID),
            constraints=[Constraint.parse(text)],
        )


def test_an_unknown_objective_is_refused_before_any_work() -> None:
    with pytest.raises(InvalidArgument, match="unknown objective 'profit'"):
        search(random_walk(100, 1), SMA, Settings(), grid(ISSUE_GRID), objective="profit")


def test_grid_values_include_the_stop_and_stay_tidy() -> None:
    assert ParamRange("std", 1.5, 2.5, 0.1).values()[-1] == 2.5
    assert ParamRange("std", 1.5, 2.5, 0.1).values()[3] == 1.8
    with pytest.raises(InvalidArgument, match="range of fast"):
        ParamRange("fast", 10, 5, 1)


def test_walk_forward_folds_roll_or_anchor() -> None:
    assert WalkForward(100, 50).folds(260) == [(0, 100, 150), (50, 150, 200), (100, 200, 250)]
    assert WalkForward(100, 50, "anchored").folds(260) == [
        (0, 100, 150),
        (0, 150, 200),
        (0, 200, 250),
    ]


def test_walk_forward_runs_the_in_sample_best_out_of_sample() -> None:
    bars = real_bars("BTCUSDT-5m-2022-04")
    small = [ParamRange("fast", 5, 20, 5), ParamRange("slow", 30, 90, 30)]
    report = walk_forward(
        bars, SMA, Settings(), grid(small), WalkForward(2_000, 1_000), objective="totalReturn"
    )
    assert len(report.folds) == 6
    for fold in report.folds:
        assert fold.in_sample == fold.table[0]
        assert len(fold.table) == 12
        # Out of sample: signals over all bars (they only look back), traded on the window.
        start, stop = fold.test
        entries, exits = SMA.signals(Indicators(bars), fold.in_sample.params)
        alone = simulate(bars.slice(start, stop), entries[start:stop], exits[start:stop])
        assert fold.out_of_sample.final_equity == alone.final_equity
    rate_in = np.mean([np.log(f.in_sample.final_equity / 10_000) / 2_000 for f in report.folds])
    rate_out = np.mean(
        [np.log(f.out_of_sample.final_equity / 10_000) / 1_000 for f in report.folds]
    )
    assert report.efficiency == pytest.approx(rate_out / rate_in)


def test_walk_forward_without_room_for_a_fold_is_refused() -> None:
    with pytest.raises(InvalidArgument, match="hold no walk-forward fold"):
        walk_forward(random_walk(100, 1), SMA, Settings(), grid(ISSUE_GRID), WalkForward(80, 40))
