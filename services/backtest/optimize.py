"""Parameter search: grid or seeded random, under constraints, ranked by an objective, and
walk-forward analysis over rolling or anchored windows.

Pure (numpy only). Indicator work is shared: one :class:`Indicators` serves every parameter
set, so a 90-set SMA grid computes each distinct SMA once. Signals are computed once per
parameter set over all bars — they only look back, so a window's signals equal those of the
window computed alone after its warm-up — and each window is simulated from there, starting
flat with the initial cash.

Long searches report through ``progress(done, total)``; to stop one (a cancelled job), raise
from the callback.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from services.backtest import metrics as stats
from services.backtest.bars import Bars, Indicators
from services.backtest.engine import Settings, simulate
from services.backtest.metrics import Metrics
from services.backtest.strategies import (
    RELATIONS,
    ParamValue,
    Signals,
    Strategy,
    resolve_params,
)
from services.common.errors import InvalidArgument

Progress = Callable[[int, int], None]

# Objectives (GraphQL names) and whether more is better.
OBJECTIVES: dict[str, bool] = {
    "totalReturn": True,
    "cagr": True,
    "sharpe": True,
    "sortino": True,
    "calmar": True,
    "profitFactor": True,
    "winRate": True,
    "expectancy": True,
    "averageTrade": True,
    "maxDrawdown": False,
    "volatility": False,
}
_FIELDS = {
    "totalReturn": "total_return",
    "profitFactor": "profit_factor",
    "winRate": "win_rate",
    "averageTrade": "average_trade",
    "maxDrawdown": "max_drawdown",
}


@dataclass(frozen=True)
class ParamRange:
    """Values to try for one parameter: ``start`` to ``stop`` inclusive by ``step`` (a grid,
    or the lattice a random search samples), or, without a step, the interval a random
    search samples uniformly (floats; whole numbers for an int parameter)."""

    name: str
    start: float
    stop: float
    step: float | None = None

    def __post_init__(self) -> None:
        if not (math.isfinite(self.start) and math.isfinite(self.stop)) or self.stop < self.start:
            raise InvalidArgument(
                f"range of {self.name} must run from a number up to one at least as large, "
                f"got {self.start}..{self.stop}"
            )
        if self.step is not None and not (self.step > 0):
            raise InvalidArgument(f"step of {self.name} must be > 0, got {self.step}")

    def values(self) -> list[float]:
        if self.step is None:
            raise InvalidArgument(f"a grid needs a step for {self.name}")
        count = math.floor((self.stop - self.start) / self.step + 1e-9) + 1
        return [_tidy(self.start + index * self.step) for index in range(count)]


def _tidy(value: float) -> float:
    """5 + 3·0.1 → 5.3, not 5.300000000000001; whole numbers as they are."""
    rounded = round(value, 12)
    return float(int(rounded)) if rounded == int(rounded) else rounded


@dataclass(frozen=True)
class Constraint:
    """``left relation right``: parameter names or numbers, e.g. ``fast < slow``."""

    left: str | float
    relation: str
    right: str | float

    @classmethod
    def parse(cls, text: str) -> Constraint:
        match = re.fullmatch(r"\s*([\w.]+)\s*(<=|>=|!=|==|<|>)\s*([\w.]+)\s*", text)
        if match is None:
            raise InvalidArgument(
                f"constraint {text!r} must read 'name relation name-or-number', e.g. "
                "'fast < slow' (relations: < <= > >= == !=)"
            )
        left, relation, right = match.groups()
        return cls(_operand(left), relation, _operand(right))

    def holds(self, params: Mapping[str, ParamValue]) -> bool:
        return RELATIONS[self.relation](
            self._value(self.left, params), self._value(self.right, params)
        )

    @staticmethod
    def _value(operand: str | float, params: Mapping[str, ParamValue]) -> float:
        if isinstance(operand, str):
            if operand not in params:
                raise InvalidArgument(
                    f"constraint names {operand!r}, which is no parameter ({', '.join(params)})"
                )
            return float(params[operand])
        return operand


def _operand(text: str) -> str | float:
    try:
        return float(text)
    except ValueError:
        return text


@dataclass(frozen=True)
class Row:
    """One parameter set tried and how it did (``score`` is None when its objective has no
    finite value; such rows rank last)."""

    params: dict[str, ParamValue]
    metrics: Metrics
    score: float | None
    final_equity: float


@dataclass(frozen=True)
class SearchResult:
    """The full table, best first, and how many candidate sets the constraints ruled out."""

    objective: str
    rows: list[Row]
    skipped: int

    @property
    def best(self) -> Row | None:
        return self.rows[0] if self.rows else None


def grid(ranges: Sequence[ParamRange]) -> Iterator[dict[str, float]]:
    """Every combination of the ranges' values, the last range varying fastest."""
    names = [item.name for item in ranges]
    for combination in itertools.product(*(item.values() for item in ranges)):
        yield dict(zip(names, combination, strict=True))


def random_sets(
    ranges: Sequence[ParamRange], strategy: Strategy, budget: int, seed: int
) -> Iterator[dict[str, float]]:
    """Parameter sets drawn with ``numpy.random.default_rng(seed)``, repeats skipped, until
    ``budget`` distinct sets were drawn or draws keep repeating (a space smaller than the
    budget). Integer parameters draw whole numbers."""
    if budget < 1:
        raise InvalidArgument(f"budget must be at least 1, got {budget}")
    kinds = {param.name: param.type for param in strategy.params}
    rng = np.random.default_rng(seed)
    seen: set[tuple[float, ...]] = set()
    misses = 0
    while len(seen) < budget and misses < 100 * budget:
        drawn = tuple(_draw(rng, item, kinds.get(item.name, "float")) for item in ranges)
        if drawn in seen:
            misses += 1
            continue
        seen.add(drawn)
        yield dict(zip((item.name for item in ranges), drawn, strict=True))


def _draw(rng: np.random.Generator, item: ParamRange, kind: str) -> float:
    if item.step is not None:
        values = item.values()
        return values[int(rng.integers(len(values)))]
    if kind == "int":
        return float(rng.integers(math.ceil(item.start), math.floor(item.stop) + 1))
    return float(rng.uniform(item.start, item.stop))


def score_of(metrics: Metrics, objective: str) -> float | None:
    """The objective's value, signed so that more is better (None: no finite value)."""
    if objective not in OBJECTIVES:
        raise InvalidArgument(f"unknown objective {objective!r}; one of {', '.join(OBJECTIVES)}")
    value = getattr(metrics, _FIELDS.get(objective, objective))
    if value is None:
        return None
    return float(value) if OBJECTIVES[objective] else -float(value)


@dataclass
class _Evaluator:
    """Runs parameter sets over windows of one :class:`Bars`, signals computed once a set.

    ``keep_signals``: keep each set's signals for its next window (walk-forward). A plain
    search runs each set once, and keeping them would grow by two arrays of the bars' length
    a set (80,000 sets of 8,640 bars: 1.4 GB)."""

    bars: Bars
    strategy: Strategy
    settings: Settings
    keep_signals: bool = True
    indicators: Indicators = field(init=False)
    _signals: dict[tuple[tuple[str, ParamValue], ...], Signals] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.indicators = Indicators(self.bars)

    def signals(self, params: dict[str, ParamValue]) -> Signals:
        if not self.keep_signals:
            return self.strategy.signals(self.indicators, params)
        key = tuple(sorted(params.items()))
        if key not in self._signals:
            self._signals[key] = self.strategy.signals(self.indicators, params)
        return self._signals[key]

    def run(self, params: dict[str, ParamValue], start: int, stop: int, objective: str) -> Row:
        entries, exits = self.signals(params)
        window = self.bars.slice(start, stop)
        result = simulate(window, entries[start:stop], exits[start:stop], self.settings)
        measured = stats.compute(result, window)
        return Row(params, measured, score_of(measured, objective), result.final_equity)


def _candidates(
    strategy: Strategy, sets: Iterator[dict[str, float]], constraints: Sequence[Constraint]
) -> tuple[list[dict[str, ParamValue]], int]:
    """The sets that pass the constraints and the strategy's schema, and how many did not."""
    kept: list[dict[str, ParamValue]] = []
    skipped = 0
    for given in sets:
        if not all(constraint.holds(given) for constraint in constraints):
            skipped += 1
            continue
        try:
            kept.append(resolve_params(strategy, given))
        except InvalidArgument:
            skipped += 1
    return kept, skipped


def _ranked(rows: list[Row]) -> list[Row]:
    return sorted(rows, key=lambda row: (row.score is None, -(row.score or 0.0)))


def search(
    bars: Bars,
    strategy: Strategy,
    settings: Settings,
    sets: Iterator[dict[str, float]],
    *,
    objective: str = "sharpe",
    constraints: Sequence[Constraint] = (),
    progress: Progress | None = None,
) -> SearchResult:
    """Run every parameter set of ``sets`` (from :func:`grid` or :func:`random_sets`) that
    keeps the constraints over all of ``bars``; the table ranked by ``objective``."""
    score_of(_ZERO_METRICS, objective)  # an unknown objective fails before any work
    candidates, skipped = _candidates(strategy, sets, constraints)
    evaluator = _Evaluator(bars, strategy, settings, keep_signals=False)
    rows: list[Row] = []
    for index, params in enumerate(candidates):
        rows.append(evaluator.run(params, 0, len(bars), objective))
        if progress is not None:
            progress(index + 1, len(candidates))
    return SearchResult(objective, _ranked(rows), skipped)


@dataclass(frozen=True)
class WalkForward:
    """Windows of ``train`` bars followed by ``test`` bars, moved forward by ``test`` bars
    each fold. ``rolling``: the training window keeps its length; ``anchored``: it always
    starts at the first bar and grows."""

    train: int
    test: int
    mode: Literal["rolling", "anchored"] = "rolling"

    def __post_init__(self) -> None:
        if self.train < 2 or self.test < 1:
            raise InvalidArgument(
                f"walk-forward windows need train >= 2 and test >= 1 bars, "
                f"got train={self.train}, test={self.test}"
            )
        if self.mode not in ("rolling", "anchored"):
            raise InvalidArgument(f"walk-forward mode must be rolling or anchored, got {self.mode}")

    def folds(self, bars: int) -> list[tuple[int, int, int]]:
        """(train start, test start, test stop) of each fold that fits in ``bars``."""
        folds = []
        test_start = self.train
        while test_start + self.test <= bars:
            train_start = 0 if self.mode == "anchored" else test_start - self.train
            folds.append((train_start, test_start, test_start + self.test))
            test_start += self.test
        return folds


@dataclass(frozen=True)
class Fold:
    """One walk-forward fold: the best in-sample set and how it did out of sample."""

    train: tuple[int, int]
    test: tuple[int, int]
    in_sample: Row
    out_of_sample: Row
    table: list[Row]


@dataclass(frozen=True)
class WalkForwardResult:
    """Every fold, and the walk-forward efficiency: the mean out-of-sample log growth a bar
    over the mean in-sample log growth a bar, ln(e/C)/bars averaged over folds (Pardo's
    ratio of annualised returns, in continuous terms). None when in-sample growth is 0."""

    objective: str
    folds: list[Fold]
    efficiency: float | None
    skipped: int


def walk_forward(
    bars: Bars,
    strategy: Strategy,
    settings: Settings,
    sets: Iterator[dict[str, float]],
    windows: WalkForward,
    *,
    objective: str = "sharpe",
    constraints: Sequence[Constraint] = (),
    progress: Progress | None = None,
) -> WalkForwardResult:
    """For each fold: search the training window, then run its best set on the test window."""
    score_of(_ZERO_METRICS, objective)
    folds = windows.folds(len(bars))
    if not folds:
        raise InvalidArgument(
            f"{len(bars)} bars hold no walk-forward fold of {windows.train} training and "
            f"{windows.test} test bars"
        )
    candidates, skipped = _candidates(strategy, sets, constraints)
    if not candidates:
        raise InvalidArgument("no parameter set keeps the constraints")
    evaluator = _Evaluator(bars, strategy, settings)
    total = len(folds) * (len(candidates) + 1)
    done = 0
    results: list[Fold] = []
    for train_start, test_start, test_stop in folds:
        rows = []
        for params in candidates:
            rows.append(evaluator.run(params, train_start, test_start, objective))
            done += 1
            if progress is not None:
                progress(done, total)
        table = _ranked(rows)
        best = table[0]
        tested = evaluator.run(best.params, test_start, test_stop, objective)
        done += 1
        if progress is not None:
            progress(done, total)
        results.append(
            Fold((train_start, test_start), (test_start, test_stop), best, tested, table)
        )
    return WalkForwardResult(objective, results, _efficiency(results, settings.cash), skipped)


def _efficiency(folds: list[Fold], cash: float) -> float | None:
    def rate(row: Row, bars: int) -> float:
        return math.log(row.final_equity / cash) / bars if row.final_equity > 0 else -math.inf

    inside = [rate(fold.in_sample, fold.train[1] - fold.train[0]) for fold in folds]
    outside = [rate(fold.out_of_sample, fold.test[1] - fold.test[0]) for fold in folds]
    mean_in, mean_out = sum(inside) / len(inside), sum(outside) / len(outside)
    if mean_in == 0 or not math.isfinite(mean_in) or not math.isfinite(mean_out):
        return None
    return mean_out / mean_in


_ZERO_METRICS = Metrics(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0, 0.0, 0.0, 0.0, 0.0, 0, 0, 0.0, 0.0)
