"""``python -m bench`` (or ``quantflow dev bench``): run the benchmarks, print the table.

python -m bench                  # everything
python -m bench --quick          # a tenth of the capture, parse/publish/store only
                                 # (the full run publishes and stores it 5 times over)
python -m bench --only end2end   # one group: parse, publish, store, pipeline, end2end,
                                 # backtest
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import platform
import tempfile
from pathlib import Path

from bench import backtest, ceilings, data, parse, pipeline, publish, store
from bench.infra import servers
from bench.report import Result, table
from bench.tape import write_tape

GROUPS = ("parse", "publish", "store", "pipeline", "end2end", "backtest")
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
    groups: set[str], limit: int | None, copies: int, tape_size: int
) -> list[Result]:
    results: list[Result] = []
    trades = data.trades(limit, copies)
    with servers() as running, tempfile.TemporaryDirectory(prefix="quantflow-tape-") as scratch:
        if "publish" in groups:
            results += await publish.run(running.nats_url, trades)
        if "store" in groups:
            results += await store.run(running.postgres_admin_url, trades)
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
    results: list[Result] = []
    if "parse" in groups:
        results += parse.run(data.raw_messages(limit))
    if groups & {"publish", "store", "pipeline", "end2end"}:
        results += asyncio.run(_io_benchmarks(groups, limit, copies, arguments.tape_trades))
    if "backtest" in groups:
        results += backtest.run(arguments.quick)
    print(
        f"capture: {data.CAPTURE.name}; Python {platform.python_version()}; "
        f"{os.cpu_count()} CPUs; load average before: {load_before:.2f}; servers: "
        f"{'external' if os.environ.get('QUANTFLOW_DATABASE_URL') else 'embedded'}"
    )
    print(table(results))


if __name__ == "__main__":
    main()
