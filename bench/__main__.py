"""``python -m bench`` (or ``quantflow dev bench``): run the benchmarks, print the table.

python -m bench                  # everything, over the whole capture
python -m bench --quick          # a tenth of the capture, parse/publish/store only
                                 # (the full run publishes and stores it 5 times over)
python -m bench --only store     # one group: parse, publish, store, pipeline
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import platform

from bench import data, parse, pipeline, publish, store
from bench.infra import servers
from bench.report import Result, table

GROUPS = ("parse", "publish", "store", "pipeline")
# publish and store run over the capture's trades this many times (new ids each copy).
COPIES = 5


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tenth of the data, no pipeline")
    parser.add_argument("--only", choices=GROUPS, action="append", help="run only these groups")
    return parser.parse_args()


async def _io_benchmarks(groups: set[str], limit: int | None, copies: int) -> list[Result]:
    results: list[Result] = []
    trades = data.trades(limit, copies)
    with servers() as running:
        if "publish" in groups:
            results += await publish.run(running.nats_url, trades)
        if "store" in groups:
            results += await store.run(running.postgres_admin_url, trades)
        if "pipeline" in groups:
            results += await pipeline.run(running.postgres_admin_url, running.nats_url)
    return results


def main() -> None:
    arguments = _arguments()
    logging.basicConfig(level=logging.WARNING)
    groups = set(arguments.only or GROUPS)
    if arguments.quick:
        groups.discard("pipeline")
    limit, copies = (4000, 1) if arguments.quick else (None, COPIES)
    results: list[Result] = []
    if "parse" in groups:
        results += parse.run(data.raw_messages(limit))
    if groups & {"publish", "store", "pipeline"}:
        results += asyncio.run(_io_benchmarks(groups, limit, copies))
    print(
        f"capture: {data.CAPTURE.name}; Python {platform.python_version()}; "
        f"{os.cpu_count()} CPUs; servers: "
        f"{'external' if os.environ.get('QUANTFLOW_DATABASE_URL') else 'embedded'}"
    )
    print(table(results))


if __name__ == "__main__":
    main()
