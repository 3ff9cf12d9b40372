"""``quantflow backtest SYMBOL --interval 1m --from … --to … --strategy sma_cross --param
fast=10 …``: one backtest through the running stack's BacktestService, its metrics as a table.

The service reads the candles from storage and stores the result (its id is printed, and
GraphQL's ``backtest(id)`` shows it again). While it works, stderr shows a progress line.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime

import grpc
from pydantic import SecretStr

from quantflow.backtest.v1 import backtest_service_pb2 as pb
from quantflow.backtest.v1 import backtest_service_pb2_grpc
from services.cli.up import read_run_file
from services.common.service_token import service_channel
from services.common.settings import Settings

_RUN_TIMEOUT_S = 600.0
_MAX_MESSAGE_BYTES = 64 * 1024 * 1024
FILLS = {"next_open": pb.FILL_NEXT_OPEN, "close": pb.FILL_CLOSE}
DIRECTIONS = {"long_only": pb.DIRECTION_LONG_ONLY, "long_short": pb.DIRECTION_LONG_SHORT}


class BacktestFailed(Exception):
    """An expected failure: one line for the user."""


def backtest_target(settings: Settings) -> str:
    """Where the backtest service is: the run file of ``quantflow up``, else
    QUANTFLOW_BACKTEST_TARGET."""
    state = read_run_file(settings.data_dir)
    if state is not None:
        components = state["components"]
        assert isinstance(components, list)
        for component in components:
            if component["name"] == "backtest":
                return str(component["grpc"])
    return settings.backtest_target


def parse_time(text: str, flag: str) -> int:
    """``2024-08-08`` or ``2024-08-08T12:00[:00][Z|+02:00]`` (UTC unless an offset is given)
    as epoch milliseconds."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise BacktestFailed(
            f"{flag} {text!r} is not an ISO-8601 date or time (e.g. 2024-08-08 or "
            "2024-08-08T12:00:00Z)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def parse_params(given: Sequence[str]) -> dict[str, object]:
    """``["fast=10", "entry=rsi(14) < 30"]`` → ``{"fast": 10, "entry": "rsi(14) < 30"}``: a
    value that reads as a JSON number is one, anything else a string."""
    params: dict[str, object] = {}
    for item in given:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise BacktestFailed(f"--param {item!r}: write NAME=VALUE, e.g. fast=10")
        try:
            parsed = json.loads(value)
        except ValueError:
            parsed = value
        params[name.strip()] = parsed if isinstance(parsed, int | float) else value
    return params


def _percent(value: float) -> str:
    return f"{value * 100:,.2f}%"


def _number(value: float) -> str:
    return f"{value:,.4f}"


def _maybe(message: pb.Metrics, name: str, show: type[str] | None = None) -> str:
    if not message.HasField(name):
        return "—"
    value = getattr(message, name)
    return _percent(value) if show is str else _number(value)


def metrics_table(result: pb.BacktestResult) -> list[str]:
    """The result as aligned lines: what was run, then each metric."""
    given = result.input
    m = result.metrics
    params = " ".join(f"{k}={json.dumps(v) if isinstance(v, str) else _plain(v)}"
                      for k, v in sorted(_params(given).items()))  # fmt: skip
    fill = pb.Fill.Name(result.fill).removeprefix("FILL_")
    quality = result.data_quality
    rows = [
        ("final equity", f"{m.final_equity:,.2f} (from {given.cash:,.2f})"),
        ("total return", _percent(m.total_return)),
        ("buy & hold return", _percent(m.buy_and_hold_return)),
        ("CAGR", _maybe(m, "cagr", str)),
        ("volatility", _percent(m.volatility)),
        ("sharpe", _maybe(m, "sharpe")),
        ("sortino", _maybe(m, "sortino")),
        ("calmar", _maybe(m, "calmar")),
        ("max drawdown", _percent(m.max_drawdown)),
        ("max drawdown bars", f"{m.max_drawdown_duration:,}"),
        ("trades (closed)", f"{m.trades:,}"),
        ("entries", f"{m.entries:,}"),
        ("win rate", _percent(m.win_rate)),
        ("profit factor", _maybe(m, "profit_factor")),
        ("expectancy", f"{m.expectancy:,.2f}"),
        ("average trade", _percent(m.average_trade)),
        ("exposure", _percent(m.exposure)),
        ("data", f"{quality.bars:,} bars, {quality.holes:,} holes ({quality.source})"),
    ]
    width = max(len(label) for label, _ in rows)
    return [
        f"{given.symbol} {given.interval} {_iso(given.from_ms)} → {_iso(given.to_ms)} "
        f"({given.venue}), {given.strategy} {params}, fill {fill}",
        f"backtest {result.id}",
        *(f"  {label:<{width}}  {value}" for label, value in rows),
    ]


def _params(given: pb.BacktestInput) -> dict[str, object]:
    from google.protobuf import json_format

    return dict(json_format.MessageToDict(given.params))


def _plain(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _iso(epoch_ms: int) -> str:
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


async def _progress_line(label: str, stop: asyncio.Event) -> None:
    """``label… 3.2s`` on stderr, rewritten until ``stop`` is set."""
    started = time.monotonic()
    shown = False
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), 0.2)
        except TimeoutError:
            print(f"\r{label}… {time.monotonic() - started:.1f}s", end="", file=sys.stderr,
                  flush=True)  # fmt: skip
            shown = True
    if shown:
        print(file=sys.stderr)


async def run_backtest(
    target: str, given: pb.BacktestInput, service_token: SecretStr | None = None
) -> pb.BacktestResult:
    """The result of one backtest; BacktestFailed with the service's own words."""
    stop = asyncio.Event()
    label = f"{given.symbol} {given.interval}: fetching candles and running {given.strategy}"
    showing = asyncio.create_task(_progress_line(label, stop))
    options = [("grpc.max_receive_message_length", _MAX_MESSAGE_BYTES)]
    try:
        async with service_channel(target, service_token, options) as channel:
            stub = backtest_service_pb2_grpc.BacktestServiceStub(channel)
            reply = await stub.RunBacktest(
                pb.RunBacktestRequest(input=given), timeout=_RUN_TIMEOUT_S
            )
    except grpc.aio.AioRpcError as error:
        if error.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
            raise BacktestFailed(
                f"the backtest service at {target} did not answer ({error.code().name}); "
                "is `quantflow up` running? (or set QUANTFLOW_BACKTEST_TARGET)"
            ) from None
        raise BacktestFailed(error.details() or error.code().name) from None
    finally:
        stop.set()
        await showing
    return reply.result
