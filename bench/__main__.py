"""``python -m bench`` (or ``quantflow dev bench``): run the benchmarks, print the table.

python -m bench                  # everything
python -m bench --quick          # a tenth of the capture, parse/publish/store only
                                 # (the full run publishes and stores it 5 times over)
python -m bench --only end2end   # one group: parse, publish, store, import, coverage,
                                 # pipeline, end2end, indicators, ohlc, backtest,
                                 # backtest_service, alerts, graph
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import platform
import tempfile
from pathlib import Path

from bench import (
    alerts,
    alerts_evaluator,
    backtest,
    backtest_service,
    ceilings,
    coverage,
    data,
    graph_api,
    indicators,
    ohlc,
    parse,
    pipeline,
    publish,
    store,
    vision_import,
)
from bench.infra import servers
from bench.report import Result, table
from bench.tape import write_tape

GROUPS = (
    "parse",
    "publish",
    "store",
    "import",
    "coverage",
    "pipeline",
    "end2end",
    "indicators",
    "ohlc",
    "backtest",
    "backtest_service",
    "alerts",
    "graph",
)
# publish and store run over the capture's trades this many times (new ids each copy).
COPIES = 5
# The end-to-end tape: at least 500,000 trades over 3 symbols (issue 7's target).
TAPE_TRADES = 540_000
# The paced run: 2,000 trades/s for 30 s.
PACED_RATE = 2000.0
PACED_TRADES = 60_000
# The JetStream ceiling with one trade per message runs over this many trades (its rate
# is flat; the whole tape would take minutes).
ONE_PER_MESSAGE_TRADES = 100_000
# `quantflow import` of a month of 1m klines (quick: three days).
IMPORT_DAYS = 31
# Coverage and history run over a stored series of this many trades (quick: a tenth).
COVERAGE_TRADES = 2_000_000
# Indicators over this many candles (issue 8: ours >= 40x `ta` for the five together;
# quick: a tenth).
INDICATOR_CANDLES = 1_000_000
# A year of 1m klines aggregated to 1h through GraphQL (issue 8: under 1 s; quick: a month).
OHLC_MINUTES = ohlc.YEAR_MINUTES
# GraphQL runBacktest over this many stored 1m candles (issue 9: under 1 s; quick: a tenth).
BACKTEST_CANDLES = backtest_service.CANDLES
# The GraphQL load test runs each query this long (quick: a quarter).
GRAPH_SECONDS = graph_api.DURATION_S


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="a tenth of the data, no pipeline or end2end"
    )
    parser.add_argument("--only", choices=GROUPS, action="append", help="run only these groups")
    parser.add_argument("--tape-trades", type=int, default=TAPE_TRADES, help="end2end tape size")
    return parser.parse_args()


async def _end_to_end(admin_url: str, nats_url: str, scratch: Path, size: int) -> list[Result]:
    """The large tape end to end, beside the raw ceilings of the same run."""
    tape = write_tape(scratch / "tape.jsonl", size)
    paced = write_tape(scratch / "paced.jsonl", PACED_TRADES, rate_per_s=PACED_RATE)
    tape_trades = data.tape_trades(tape.path)
    results = [await ceilings.copy_alone(admin_url, tape_trades)]
    for per_message in (1, ceilings.PER_MESSAGE):
        subset = tape_trades[:ONE_PER_MESSAGE_TRADES] if per_message == 1 else tape_trades
        results += await ceilings.jetstream(nats_url, subset, per_message)
    results.append(await pipeline.run_tape(admin_url, nats_url, tape))
    results.append(await pipeline.run_latency(admin_url, nats_url, paced))
    return results


async def _io_benchmarks(
    groups: set[str], limit: int | None, copies: int, tape_size: int, import_days: int
) -> list[Result]:
    results: list[Result] = []
    trades = data.trades(limit, copies)
    with servers() as running, tempfile.TemporaryDirectory(prefix="quantflow-tape-") as scratch:
        if "publish" in groups:
            results += await publish.run(running.nats_url, trades)
        if "store" in groups:
            results += await store.run(running.postgres_admin_url, trades)
        if "import" in groups:
            results += await vision_import.run(
                running.postgres_admin_url, Path(scratch), import_days
            )
        if "coverage" in groups:
            size = COVERAGE_TRADES // 10 if limit is not None else COVERAGE_TRADES
            results += await coverage.run(running.postgres_admin_url, size)
        if "ohlc" in groups:
            minutes = OHLC_MINUTES // 12 if limit is not None else OHLC_MINUTES
            results += await ohlc.run(running.postgres_admin_url, running.nats_url, minutes)
        if "backtest_service" in groups:
            candles = BACKTEST_CANDLES // 10 if limit is not None else BACKTEST_CANDLES
            results += await backtest_service.run(
                running.postgres_admin_url, running.nats_url, candles
            )
        if "alerts" in groups:
            results += await alerts_evaluator.run(
                running.postgres_admin_url, running.nats_url, quick=limit is not None
            )
        if "graph" in groups:
            seconds = GRAPH_SECONDS / 4 if limit is not None else GRAPH_SECONDS
            results += await graph_api.run(running.postgres_admin_url, running.nats_url, seconds)
        if "pipeline" in groups:
            results += await pipeline.run(
                running.postgres_admin_url, running.nats_url, Path(scratch)
            )
        if "end2end" in groups:
            results += await _end_to_end(
                running.postgres_admin_url, running.nats_url, Path(scratch), tape_size
            )
    return results


def main() -> None:
    arguments = _arguments()
    load_before = os.getloadavg()[0]
    logging.basicConfig(level=logging.WARNING)
    groups = set(arguments.only or GROUPS)
    if arguments.quick:
        groups -= {"pipeline", "end2end"}
    limit, copies = (4000, 1) if arguments.quick else (None, COPIES)
    import_days = 3 if arguments.quick else IMPORT_DAYS
    results: list[Result] = []
    if "parse" in groups:
        results += parse.run(data.raw_messages(limit))
    if "indicators" in groups:
        results += indicators.run(INDICATOR_CANDLES // 10 if arguments.quick else INDICATOR_CANDLES)
    io_groups = {"publish", "store", "import", "coverage", "pipeline", "end2end", "ohlc", "alerts"}
    if groups & (io_groups | {"backtest_service", "graph"}):
        results += asyncio.run(
            _io_benchmarks(groups, limit, copies, arguments.tape_trades, import_days)
        )
    if "backtest" in groups:
        results += backtest.run(arguments.quick)
    if "alerts" in groups:
        results += alerts.run(arguments.quick)
    print(
        f"capture: {data.CAPTURE.name}; Python {platform.python_version()}; "
        f"{os.cpu_count()} CPUs; load average before: {load_before:.2f}; servers: "
        f"{'external' if os.environ.get('QUANTFLOW_DATABASE_URL') else 'embedded'}"
    )
    print(table(results))


if __name__ == "__main__":
    main()
