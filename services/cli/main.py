"""The ``quantflow`` command line."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from services.common.runtime import configure_logging, run_service
from services.common.settings import Settings

SERVICES = ("ingest", "storage", "graph")


def _settings(**overrides: Any) -> Settings:
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as error:
        problems = "; ".join(
            f"QUANTFLOW_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
            for e in error.errors(include_url=False)
        )
        raise SystemExit(f"quantflow: invalid settings: {problems}") from None


def _up(args: argparse.Namespace) -> int:
    from services.cli.up import Stack

    source = "demo" if args.demo else args.source
    speed = args.speed
    if source == "demo" and speed is None:
        speed = 1.0
    settings = _settings(
        source=source,
        replay_speed=speed,
        data_dir=args.data_dir,
        replay_loop=args.loop,
        symbols=args.symbols,
    )
    configure_logging(settings.log_level)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await Stack(settings).run(stop)

    asyncio.run(main())
    return 0


def _serve(args: argparse.Namespace) -> int:
    settings = _settings()
    if args.service == "ingest":
        from services.ingest.service import run
    elif args.service == "storage":
        from services.storage.service import run
    else:
        from graph.service import run
    run_service(run, settings, parent_pid=args.supervisor_pid)
    return 0


def _status(args: argparse.Namespace) -> int:
    from services.cli.status import status

    return status(_settings(data_dir=args.data_dir))


def _dev(args: argparse.Namespace) -> int:
    from services.cli import dev

    return dev.run(args.verb, args.rest)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="quantflow",
        description="Binance market data captured, stored and served over GraphQL.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    up = commands.add_parser("up", help="run the whole system on this machine")
    up.add_argument(
        "--source",
        default=None,
        help="binance (default, live), demo, or replay:PATH (.jsonl or .gz capture)",
    )
    up.add_argument(
        "--demo",
        action="store_true",
        help="replay the bundled real capture in a loop at recorded pace",
    )
    up.add_argument(
        "--speed",
        type=float,
        default=None,
        help="replay pace: 0 = as fast as possible (default), 1 = recorded pace",
    )
    up.add_argument(
        "--loop", action="store_true", default=None, help="replay the file again and again"
    )
    up.add_argument("--symbols", default=None, help="e.g. BTCUSDT,ETHUSDT (live source)")
    up.add_argument("--data-dir", default=None, help="where embedded servers keep data")
    up.set_defaults(handler=_up)

    serve = commands.add_parser("serve", help="run one service (what a container runs)")
    serve.add_argument("service", choices=SERVICES)
    serve.add_argument(
        "--supervisor-pid",
        type=int,
        default=None,
        help="stop when this process (quantflow up sets its own pid) is no longer the parent",
    )
    serve.set_defaults(handler=_serve)

    status = commands.add_parser("status", help="health of a running `quantflow up`")
    status.add_argument("--data-dir", default=None)
    status.set_defaults(handler=_status)

    dev = commands.add_parser("dev", help="contributor tasks")
    dev.add_argument(
        "verb",
        choices=(
            "lint",
            "typecheck",
            "test",
            "generate",
            "check-generated",
            "bench",
            "fetch-graphiql",
            "install-browser",
        ),
    )
    dev.add_argument("rest", nargs=argparse.REMAINDER, help="passed to the underlying tool")
    dev.set_defaults(handler=_dev)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler = args.handler
    result: int = handler(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
