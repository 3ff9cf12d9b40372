"""``quantflow optimize SYMBOL --interval 1m --from … --to … --strategy sma_cross --range
fast=5:50:5 --range slow=20:200:20 --constraint "fast < slow" --objective sharpe``: a
parameter search submitted as a job to the running stack's backtest workers, followed with
a progress bar (``WatchJob``), then its best rows as a table.

Ctrl-C cancels the job. ``--walk-forward TRAIN:TEST[:anchored]`` (bars) walks forward and
prints each fold, in sample against out of sample, and the walk-forward efficiency.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import Sequence

import grpc
from pydantic import SecretStr

from quantflow.backtest.v1 import backtest_service_pb2 as pb
from quantflow.backtest.v1 import backtest_service_pb2_grpc, jobs_pb2
from services.backtest.optimize_job import parse_range
from services.cli.backtest import (
    DIRECTIONS,
    FILLS,
    BacktestFailed,
    parse_params,
    parse_time,
)
from services.cli.progress import FractionBar
from services.common.errors import InvalidArgument
from services.common.service_token import service_channel
from services.common.symbols import parse_symbol

_RPC_TIMEOUT_S = 30.0
_MAX_MESSAGE_BYTES = 64 * 1024 * 1024
_ENDED = {jobs_pb2.JOB_STATE_SUCCEEDED, jobs_pb2.JOB_STATE_FAILED, jobs_pb2.JOB_STATE_CANCELLED}


def _walk_forward(text: str) -> pb.WalkForward:
    parts = text.split(":")
    mode = parts[2].lower() if len(parts) == 3 else "rolling"
    if (
        len(parts) not in (2, 3)
        or not all(p.isdigit() for p in parts[:2])
        or mode
        not in (
            "rolling",
            "anchored",
        )
    ):
        raise BacktestFailed(
            f"--walk-forward {text!r}: write TRAIN:TEST[:anchored] in bars, e.g. 5000:1000"
        )
    return pb.WalkForward(
        train_bars=int(parts[0]),
        test_bars=int(parts[1]),
        mode=pb.WALK_FORWARD_MODE_ANCHORED if mode == "anchored" else pb.WALK_FORWARD_MODE_ROLLING,
    )


def optimize_input(args: argparse.Namespace) -> pb.OptimizeInput:
    """The request the flags describe; BacktestFailed naming a malformed flag."""
    try:
        symbol = parse_symbol(args.symbol)
        ranges = [parse_range(text) for text in args.ranges]
    except InvalidArgument as error:
        raise BacktestFailed(str(error)) from None
    if not ranges:
        raise BacktestFailed("give at least one --range, e.g. --range fast=5:50:5")
    backtest = pb.BacktestInput(
        symbol=symbol,
        venue=args.venue,
        interval=args.interval,
        from_ms=parse_time(args.first, "--from"),
        to_ms=parse_time(args.end, "--to"),
        strategy=args.strategy,
        cash=args.cash,
        fee_rate=args.fee_rate,
        slippage_bps=args.slippage_bps,
        fill=FILLS[args.fill],
        direction=DIRECTIONS[args.direction],
    )
    backtest.params.update(parse_params(args.param))
    given = pb.OptimizeInput(
        backtest=backtest,
        ranges=[
            pb.ParamRange(name=r.name, start=r.start, stop=r.stop, step=r.step) for r in ranges
        ],
        method=pb.SEARCH_METHOD_GRID if args.random is None else pb.SEARCH_METHOD_RANDOM,
        budget=args.random or 0,
        seed=args.seed,
        constraints=args.constraints,
        objective=args.objective,
    )
    if args.walk_forward:
        given.walk_forward.CopyFrom(_walk_forward(args.walk_forward))
    return given


def _number(value: float | None, percent: bool = False) -> str:
    if value is None:
        return "—"
    return f"{value * 100:,.2f}%" if percent else f"{value:,.3f}"


def _params(row: pb.OptimizeRow) -> str:
    def plain(value: float) -> str:
        return str(int(value)) if value.is_integer() else f"{value:g}"

    return " ".join(f"{name}={plain(value)}" for name, value in sorted(row.params.items()))


def _optional(message: pb.Metrics, name: str) -> float | None:
    return float(getattr(message, name)) if message.HasField(name) else None


def rows_table(result: pb.OptimizeResult, top: int) -> list[str]:
    """The best ``top`` rows as aligned lines."""
    header = ("#", "params", result.objective, "return", "sharpe", "max dd", "trades")
    lines = [header]
    for rank, row in enumerate(result.rows[:top], 1):
        m = row.metrics
        lines.append(
            (
                str(rank),
                _params(row),
                _number(row.score if row.HasField("score") else None),
                _number(m.total_return, percent=True),
                _number(_optional(m, "sharpe")),
                _number(m.max_drawdown, percent=True),
                f"{m.trades:,}",
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return [
        "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(line)).rstrip() for line in lines
    ]


def summary(job: pb.Job, top: int) -> list[str]:
    result = job.optimize_result
    tried = len(result.rows)
    lines = [
        f"job {job.id}: {tried:,} parameter sets tried, {result.skipped:,} ruled out; "
        f"best by {result.objective}:"
    ]
    lines.extend(rows_table(result, top))
    if result.HasField("walk_forward"):
        walk = result.walk_forward
        efficiency = walk.efficiency if walk.HasField("efficiency") else None
        lines.append(f"walk-forward: {len(walk.folds)} folds, efficiency {_number(efficiency)}")
        for index, fold in enumerate(walk.folds, 1):
            inside, outside = fold.in_sample.metrics, fold.out_of_sample.metrics
            lines.append(
                f"  fold {index}: {_params(fold.in_sample)}  in sample "
                f"{_number(inside.total_return, True)}, out of sample "
                f"{_number(outside.total_return, True)}"
            )
    return lines


async def run_optimize(
    target: str, given: pb.OptimizeInput, top: int, service_token: SecretStr | None = None
) -> list[str]:
    """Submit, follow with a progress bar, and the summary; BacktestFailed with the service's
    own words. Cancelling this coroutine (Ctrl-C) cancels the job."""
    options = [("grpc.max_receive_message_length", _MAX_MESSAGE_BYTES)]
    bar = FractionBar(f"optimize {given.backtest.symbol} {given.backtest.strategy}")
    async with service_channel(target, service_token, options) as channel:
        stub = backtest_service_pb2_grpc.BacktestServiceStub(channel)
        try:
            job = (await stub.Optimize(pb.OptimizeRequest(input=given), timeout=_RPC_TIMEOUT_S)).job
        except grpc.aio.AioRpcError as error:
            raise _failed(error, target) from None
        try:
            state = await _follow(stub, job.id, bar)
        except asyncio.CancelledError:
            bar.finish()
            with contextlib.suppress(grpc.aio.AioRpcError):
                await stub.CancelJob(pb.CancelJobRequest(id=job.id), timeout=_RPC_TIMEOUT_S)
            raise
        except grpc.aio.AioRpcError as error:
            raise _failed(error, target) from None
        finally:
            bar.finish()
        finished = (await stub.GetJob(pb.GetJobRequest(id=job.id), timeout=_RPC_TIMEOUT_S)).job
    if state == jobs_pb2.JOB_STATE_FAILED:
        raise BacktestFailed(f"job {job.id} failed: {finished.error}")
    if state == jobs_pb2.JOB_STATE_CANCELLED:
        raise BacktestFailed(f"job {job.id} was cancelled")
    return summary(finished, top)


async def _follow(
    stub: backtest_service_pb2_grpc.BacktestServiceStub, job_id: str, bar: FractionBar
) -> int:
    """Show each WatchJob step until the job ends; its final state."""
    state: int = jobs_pb2.JOB_STATE_UNSPECIFIED
    async for reply in stub.WatchJob(pb.WatchJobRequest(id=job_id)):
        event = reply.event
        state = int(event.state)
        label = jobs_pb2.JobState.Name(state).removeprefix("JOB_STATE_").lower()
        bar.show(event.progress, event.message or label)
        if state in _ENDED:
            break
    return state


def _failed(error: grpc.aio.AioRpcError, target: str) -> BacktestFailed:
    if error.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
        return BacktestFailed(
            f"the backtest service at {target} did not answer ({error.code().name}); "
            "is `quantflow up` running? (or set QUANTFLOW_BACKTEST_TARGET)"
        )
    return BacktestFailed(error.details() or error.code().name)


def print_lines(lines: Sequence[str]) -> None:
    print("\n".join(lines))
