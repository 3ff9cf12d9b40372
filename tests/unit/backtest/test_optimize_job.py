"""Unit tests for services/backtest/optimize_job.py: ranges, the spec and the result JSON."""

from __future__ import annotations

import pytest

from services.backtest import strategies
from services.backtest.engine import Settings
from services.backtest.jobs import Progress
from services.backtest.optimize import Constraint, WalkForward
from services.backtest.optimize_job import OptimizeSpec, parse_range, run
from services.common.errors import InvalidArgument
from tests.unit.backtest.market import random_walk

SMA = strategies.get("sma_cross")
GRID = OptimizeSpec(
    (parse_range("fast=5:50:5"), parse_range("slow=20:200:20")),
    (Constraint.parse("fast < slow"),),
)


def test_parse_range_with_step_is_a_grid_range() -> None:
    item = parse_range("fast=5:50:5")
    assert (item.name, item.start, item.stop, item.step) == ("fast", 5, 50, 5)
    assert item.values()[-1] == 50


def test_parse_range_without_step_is_an_interval() -> None:
    assert parse_range("x = 0.1 : 0.9").step is None


@pytest.mark.parametrize("text", ["fast", "fast=5", "fast=a:b:c", "=1:2"])
def test_parse_range_malformed_names_the_text_and_the_form(text: str) -> None:
    with pytest.raises(InvalidArgument, match="name=start:stop"):
        parse_range(text)


def test_spec_round_trips_through_json() -> None:
    spec = OptimizeSpec(
        GRID.ranges, GRID.constraints, "calmar", walk_forward=WalkForward(500, 100, "anchored")
    )
    assert OptimizeSpec.from_json(spec.to_json()) == spec


def test_spec_unknown_objective_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(InvalidArgument, match=r"unknown objective 'luck'.*sharpe"):
        OptimizeSpec(GRID.ranges, objective="luck")


def test_grid_without_step_is_refused() -> None:
    with pytest.raises(InvalidArgument, match="a grid needs a step for fast"):
        OptimizeSpec((parse_range("fast=5:50"),))


def test_range_of_no_parameter_of_the_strategy_is_refused_before_work() -> None:
    spec = OptimizeSpec((parse_range("fats=5:50:5"),))
    with pytest.raises(InvalidArgument, match="fats: no parameter of sma_cross"):
        run(spec, random_walk(300, 1), SMA, Settings())


def test_grid_of_90_sets_under_fast_lt_slow_tries_each_once_best_first() -> None:
    result = run(GRID, random_walk(3000, 7), SMA, Settings())
    rows = result["rows"]
    assert len(rows) + result["skipped"] == 100
    assert all(row["params"]["fast"] < row["params"]["slow"] for row in rows)
    assert result["best"] == rows[0]
    scores = [row["score"] for row in rows if row["score"] is not None]
    assert scores == sorted(scores, reverse=True)
    assert rows[0]["metrics"]["finalEquity"] > 0


def test_progress_reports_count_up_to_every_set() -> None:
    seen: list[Progress] = []
    run(GRID, random_walk(500, 7), SMA, Settings(), seen.append)
    fractions = [p.fraction for p in seen]
    assert fractions == sorted(fractions)
    assert fractions[-1] == 1.0
    assert seen[-1].message.endswith("parameter set runs")


def test_random_search_tries_budget_sets_reproducibly() -> None:
    spec = OptimizeSpec(GRID.ranges, GRID.constraints, method="RANDOM", budget=12, seed=3)
    first = run(spec, random_walk(500, 2), SMA, Settings())
    again = run(spec, random_walk(500, 2), SMA, Settings())
    assert len(first["rows"]) + first["skipped"] == 12
    assert first == again


def test_walk_forward_reports_folds_with_half_open_times_and_efficiency() -> None:
    spec = OptimizeSpec(GRID.ranges, GRID.constraints, walk_forward=WalkForward(1000, 500))
    bars = random_walk(3000, 5)
    result = run(spec, bars, SMA, Settings())
    folds = result["walkForward"]["folds"]
    assert len(folds) == 4
    assert folds[0]["trainFromMs"] == "0"
    assert folds[0]["trainToMs"] == folds[0]["testFromMs"] == str(1000 * 60_000)
    assert folds[0]["inSample"] == folds[0]["table"][0]
    assert "efficiency" in result["walkForward"]
