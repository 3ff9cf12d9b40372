"""Unit tests for services/cli/optimize.py: flags to OptimizeInput, and the table."""

from __future__ import annotations

import pytest

from quantflow.backtest.v1 import backtest_service_pb2 as pb
from services.cli.backtest import BacktestFailed
from services.cli.main import build_parser
from services.cli.optimize import optimize_input, rows_table

BASE = ["optimize", "BTCUSDT", "--from", "2024-08-01", "--to", "2024-08-08"]


def _input(*flags: str) -> pb.OptimizeInput:
    return optimize_input(build_parser().parse_args([*BASE, *flags]))


def test_ranges_constraint_and_objective_become_a_grid_request() -> None:
    given = _input(
        "--range", "fast=5:50:5", "--range", "slow=20:200:20",
        "--constraint", "fast < slow", "--objective", "calmar",
    )  # fmt: skip
    assert [(r.name, r.start, r.stop, r.step) for r in given.ranges] == [
        ("fast", 5, 50, 5),
        ("slow", 20, 200, 20),
    ]
    assert list(given.constraints) == ["fast < slow"]
    assert given.objective == "calmar"
    assert given.method == pb.SEARCH_METHOD_GRID
    assert given.backtest.strategy == "sma_cross"
    assert not given.HasField("walk_forward")


def test_random_with_budget_and_seed() -> None:
    given = _input("--range", "fast=5:50", "--random", "30", "--seed", "7")
    assert (given.method, given.budget, given.seed) == (pb.SEARCH_METHOD_RANDOM, 30, 7)
    assert not given.ranges[0].HasField("step")


def test_walk_forward_anchored() -> None:
    given = _input("--range", "fast=5:50:5", "--walk-forward", "5000:1000:anchored")
    assert given.walk_forward.train_bars == 5000
    assert given.walk_forward.test_bars == 1000
    assert given.walk_forward.mode == pb.WALK_FORWARD_MODE_ANCHORED


@pytest.mark.parametrize("text", ["5000", "a:b", "5000:1000:sideways"])
def test_malformed_walk_forward_names_the_flag(text: str) -> None:
    with pytest.raises(BacktestFailed, match="--walk-forward"):
        _input("--range", "fast=5:50:5", "--walk-forward", text)


def test_no_range_is_refused() -> None:
    with pytest.raises(BacktestFailed, match="at least one --range"):
        _input()


def test_malformed_range_names_it() -> None:
    with pytest.raises(BacktestFailed, match="fast=5"):
        _input("--range", "fast=5")


def test_rows_table_shows_params_and_figures_aligned() -> None:
    result = pb.OptimizeResult(
        objective="sharpe",
        rows=[
            pb.OptimizeRow(
                params={"fast": 10, "slow": 30},
                score=1.5,
                metrics=pb.Metrics(total_return=0.1, sharpe=1.5, max_drawdown=0.05, trades=4),
            )
        ],
    )
    header, row = rows_table(result, 5)
    assert row.split() == ["1", "fast=10", "slow=30", "1.500", "10.00%", "1.500", "5.00%", "4"]
    assert header.index("params") == row.index("fast=10")
