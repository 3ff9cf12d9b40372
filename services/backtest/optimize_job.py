"""An optimisation job's own part: what to search (``OptimizeSpec``, read from the job's
stored request) and the result table as JSON for the ``jobs`` table.

Pure (numpy only, through :mod:`services.backtest.optimize`). The JSON uses the camelCase
names of the ``backtest.v1.OptimizeResult`` proto, so the gRPC edge turns it into that
message with ``json_format.ParseDict``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from services.backtest.bars import Bars
from services.backtest.engine import Settings
from services.backtest.jobs import Progress
from services.backtest.optimize import (
    OBJECTIVES,
    Constraint,
    ParamRange,
    Row,
    WalkForward,
    grid,
    random_sets,
    search,
    walk_forward,
)
from services.backtest.strategies import Strategy
from services.common.errors import InvalidArgument

Report = Callable[[Progress], None]

_RANGE_RE = re.compile(
    r"^\s*(\w+)\s*=\s*([-+\d.eE]+)\s*:\s*([-+\d.eE]+)(?:\s*:\s*([-+\d.eE]+))?\s*$"
)


def parse_range(text: str) -> ParamRange:
    """``fast=5:50:5`` (start:stop:step, stop included) or ``x=0.1:0.9`` (no step: the
    interval a random search samples); INVALID_ARGUMENT naming the text otherwise."""
    match = _RANGE_RE.match(text)
    if match is None:
        raise InvalidArgument(f"range {text!r} must read name=start:stop[:step], e.g. fast=5:50:5")
    name, start, stop, step = match.groups()
    try:
        return ParamRange(name, float(start), float(stop), float(step) if step else None)
    except ValueError:
        raise InvalidArgument(f"range {text!r} holds something that is not a number") from None


@dataclass(frozen=True)
class OptimizeSpec:
    """Which parameter sets to try, how to rank them, and optional walk-forward windows."""

    ranges: tuple[ParamRange, ...]
    constraints: tuple[Constraint, ...] = ()
    objective: str = "sharpe"
    method: Literal["GRID", "RANDOM"] = "GRID"
    budget: int = 100
    seed: int = 0
    walk_forward: WalkForward | None = None

    def __post_init__(self) -> None:
        if not self.ranges:
            raise InvalidArgument("give at least one parameter range, e.g. fast=5:50:5")
        names = [item.name for item in self.ranges]
        if len(set(names)) != len(names):
            raise InvalidArgument(f"a parameter has two ranges: {', '.join(names)}")
        if self.objective not in OBJECTIVES:
            raise InvalidArgument(
                f"unknown objective {self.objective!r}; one of {', '.join(OBJECTIVES)}"
            )
        if self.method not in ("GRID", "RANDOM"):
            raise InvalidArgument(f"method must be GRID or RANDOM, got {self.method!r}")
        if self.method == "RANDOM" and self.budget < 1:
            raise InvalidArgument(f"budget must be at least 1, got {self.budget}")
        if self.method == "GRID":
            for item in self.ranges:
                if item.step is None:
                    raise InvalidArgument(f"a grid needs a step for {item.name}")

    def sets(
        self, strategy: Strategy, fixed: Mapping[str, float] | None = None
    ) -> Iterator[dict[str, float]]:
        """The sets to try, each with the ``fixed`` parameters (those not searched)."""
        drawn = (
            grid(self.ranges)
            if self.method == "GRID"
            else random_sets(self.ranges, strategy, self.budget, self.seed)
        )
        return ({**(fixed or {}), **values} for values in drawn)

    def check(self, strategy: Strategy) -> None:
        """INVALID_ARGUMENT before any work when a range or constraint names no parameter
        of ``strategy``."""
        known = {param.name for param in strategy.params}
        named = {item.name for item in self.ranges}
        for constraint in self.constraints:
            named |= {op for op in (constraint.left, constraint.right) if isinstance(op, str)}
        unknown = sorted(named - known)
        if unknown:
            raise InvalidArgument(
                f"{', '.join(unknown)}: no parameter of {strategy.name} "
                f"({', '.join(sorted(known))})"
            )

    def to_json(self) -> dict[str, Any]:
        spec: dict[str, Any] = {
            "ranges": [
                {"name": r.name, "start": r.start, "stop": r.stop}
                | ({} if r.step is None else {"step": r.step})
                for r in self.ranges
            ],
            "constraints": [_constraint_text(c) for c in self.constraints],
            "objective": self.objective,
            "method": self.method,
            "budget": self.budget,
            "seed": self.seed,
        }
        if self.walk_forward is not None:
            spec["walkForward"] = {
                "train": self.walk_forward.train,
                "test": self.walk_forward.test,
                "mode": self.walk_forward.mode.upper(),
            }
        return spec

    @classmethod
    def from_json(cls, spec: Mapping[str, Any]) -> OptimizeSpec:
        windows = spec.get("walkForward")
        return cls(
            ranges=tuple(
                ParamRange(r["name"], float(r["start"]), float(r["stop"]), _step(r.get("step")))
                for r in spec.get("ranges", ())
            ),
            constraints=tuple(Constraint.parse(text) for text in spec.get("constraints", ())),
            objective=str(spec.get("objective") or "sharpe"),
            method="RANDOM" if spec.get("method") == "RANDOM" else "GRID",
            budget=int(spec.get("budget") or 100),
            seed=int(spec.get("seed") or 0),
            walk_forward=None
            if not windows
            else WalkForward(
                int(windows["train"]),
                int(windows["test"]),
                "anchored" if str(windows.get("mode", "")).upper() == "ANCHORED" else "rolling",
            ),
        )


def _step(value: object) -> float | None:
    return None if value in (None, 0, 0.0) else float(value)  # type: ignore[arg-type]


def _constraint_text(constraint: Constraint) -> str:
    def show(operand: str | float) -> str:
        return operand if isinstance(operand, str) else f"{operand:g}"

    return f"{show(constraint.left)} {constraint.relation} {show(constraint.right)}"


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _finite(value: float | int | None) -> float | int | None:
    """None for NaN and ±inf: JSON (and jsonb) have no such numbers."""
    return value if value is None or math.isfinite(value) else None


def row_json(row: Row) -> dict[str, Any]:
    return {
        "params": {name: float(value) for name, value in row.params.items()},
        "score": _finite(row.score),
        "metrics": {_camel(k): _finite(v) for k, v in row.metrics.as_dict().items()}
        | {"finalEquity": _finite(row.final_equity)},
    }


def run(
    spec: OptimizeSpec,
    bars: Bars,
    strategy: Strategy,
    settings: Settings,
    report: Report | None = None,
    fixed: Mapping[str, float] | None = None,
) -> dict[str, Any]:
    """Search (or walk forward), reporting ``n/total parameter set runs`` as it goes, with
    the ``fixed`` parameters in every set; the result as the JSON of ``OptimizeResult``."""
    spec.check(strategy)

    def progress(done: int, total: int) -> None:
        if report is not None:
            report(Progress.of(done, total, "parameter set runs"))

    if spec.walk_forward is None:
        found = search(
            bars,
            strategy,
            settings,
            spec.sets(strategy, fixed),
            objective=spec.objective,
            constraints=spec.constraints,
            progress=progress,
        )
        rows = [row_json(row) for row in found.rows]
        return {
            "objective": spec.objective,
            "rows": rows,
            "best": rows[0] if rows else None,
            "skipped": found.skipped,
        }
    windows = walk_forward(
        bars,
        strategy,
        settings,
        spec.sets(strategy, fixed),
        spec.walk_forward,
        objective=spec.objective,
        constraints=spec.constraints,
        progress=progress,
    )
    times = bars.time
    step_ms = int(bars.interval_seconds * 1000)

    def end(index: int) -> str:  # half-open: the end of bar ``index - 1``
        return str(int(times[index - 1]) + step_ms)

    folds: list[dict[str, Any]] = [
        {
            "trainFromMs": str(int(times[fold.train[0]])),
            "trainToMs": end(fold.train[1]),
            "testFromMs": str(int(times[fold.test[0]])),
            "testToMs": end(fold.test[1]),
            "inSample": row_json(fold.in_sample),
            "outOfSample": row_json(fold.out_of_sample),
            "table": [row_json(row) for row in fold.table],
        }
        for fold in windows.folds
    ]
    last = folds[-1]["table"] if folds else []
    return {
        "objective": spec.objective,
        "rows": last,
        "best": last[0] if last else None,
        "skipped": windows.skipped,
        "walkForward": {"efficiency": _finite(windows.efficiency), "folds": folds},
    }
