"""The ``quantflow`` command line."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from services.common.names import VENUES
from services.common.runtime import configure_logging, run_service
from services.common.settings import Settings, describe_invalid, env_name

SERVICES = ("ingest", "storage", "backtest", "alerts", "graph")
# The settings `up` takes from flags, so an error names the flag the user typed.
UP_FLAGS = {
    "source": "--source",
    "replay_speed": "--speed",
    "data_dir": "--data-dir",
    "replay_loop": "--loop",
    "symbols": "--symbols",
    "streams": "--streams",
    "log_level": "--log-level",
    "venue": "--venue",
}


def _settings(
    flags: dict[str, str] | None = None, **overrides: Any
) -> tuple[Settings, dict[str, str]]:
    """Settings from the environment and the given flag values, and the name (flag or
    variable) each setting came from, for error messages."""
    given = {k: v for k, v in overrides.items() if v is not None}
    names = {field: flag for field, flag in (flags or {}).items() if field in given}
    try:
        settings = Settings(**given)
    except ValidationError as error:
        raise SystemExit(f"quantflow: {describe_invalid(error, names)}") from None
    except ValueError as error:  # QUANTFLOW_SECRETS_DIR that is no directory
        raise SystemExit(f"quantflow: {error}") from None
    return settings, {field: names.get(field, env_name(field)) for field in Settings.model_fields}


def up_settings(args: argparse.Namespace) -> tuple[Settings, dict[str, str]]:
    """The settings `up` runs with: its flags over the environment, and where each came from."""
    source = "demo" if args.demo else args.source
    speed = args.speed
    if source == "demo" and speed is None:
        speed = 1.0
    flags = {**UP_FLAGS, "source": "--demo" if args.demo else "--source"}
    return _settings(
        flags,
        source=source,
        replay_speed=speed,
        data_dir=args.data_dir,
        replay_loop=args.loop,
        symbols=args.symbols,
        streams=args.streams,
        venue=args.venue,
        log_level=args.log_level,
    )


def _up(args: argparse.Namespace) -> int:
    from services.cli.preflight import live_symbols_problem, preflight
    from services.cli.up import Stack

    settings, names = up_settings(args)
    configure_logging(settings.log_level)
    problem = preflight(settings, names) or live_symbols_problem(settings, names)
    if problem is not None:
        raise SystemExit(f"quantflow up: {problem}")

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await Stack(settings).run(stop)

    asyncio.run(main())
    return 0


def _serve(args: argparse.Namespace) -> int:
    settings, _ = _settings()
    if args.service == "ingest":
        from services.ingest.service import run
    elif args.service == "storage":
        from services.storage.service import run
    elif args.service == "backtest":
        from services.backtest.service import run
    elif args.service == "alerts":
        from services.alerts.service import run
    else:
        from graph.service import run
    run_service(run, settings, parent_pid=args.supervisor_pid)
    return 0


def _status(args: argparse.Namespace) -> int:
    from services.cli.status import status

    settings, _ = _settings({"data_dir": "--data-dir"}, data_dir=args.data_dir)
    return status(settings)


def _backfill(args: argparse.Namespace) -> int:
    from services.cli.backfill import BackfillError, backfill
    from services.common.errors import InvalidArgument
    from services.common.symbols import parse_symbol

    settings, _ = _settings({"data_dir": "--data-dir"}, data_dir=args.data_dir)
    configure_logging("WARNING")
    try:
        symbol = parse_symbol(args.symbol)
    except InvalidArgument as error:
        raise SystemExit(f"quantflow backfill: SYMBOL: {error}") from None
    try:
        line = asyncio.run(backfill(settings, symbol, args.kind, args.first, args.last))
    except BackfillError as error:
        raise SystemExit(f"quantflow backfill: {error}") from None
    except KeyboardInterrupt:
        print(
            "\nquantflow backfill: interrupted; run the same command again to fetch the rest",
            file=sys.stderr,
        )
        return 130
    print(line)
    return 0


def _import(args: argparse.Namespace) -> int:
    from pathlib import Path

    from services.cli.import_ import ImportFailed, run_import
    from services.ingest.vision_files import Given

    settings, _ = _settings({"data_dir": "--data-dir"}, data_dir=args.data_dir)
    configure_logging("WARNING")
    given = Given(args.symbol, args.kind, args.interval, args.venue)
    try:
        lines = asyncio.run(run_import(settings, [Path(p) for p in args.paths], given))
    except ImportFailed as error:
        raise SystemExit(f"quantflow import: {error}") from None
    except KeyboardInterrupt:
        print(
            "\nquantflow import: interrupted; run the same command again to import the rest",
            file=sys.stderr,
        )
        return 130
    print("\n".join(lines))
    return 0


def _user(args: argparse.Namespace) -> int:
    from services.cli.users import UserCommandFailed, add_user, describe, read_password

    settings, _ = _settings({"data_dir": "--data-dir"}, data_dir=args.data_dir)
    configure_logging("WARNING")
    try:
        password = read_password(sys.stdin, args.password_stdin)
        user = asyncio.run(add_user(settings, args.name, password, admin=args.admin))
    except UserCommandFailed as error:
        raise SystemExit(f"quantflow user add: {error}") from None
    print(describe(user))
    return 0


def _audit(args: argparse.Namespace) -> int:
    from services.cli.audit import AuditError, audit, print_lines
    from services.common.errors import InvalidArgument
    from services.common.symbols import parse_symbol

    settings, _ = _settings({"data_dir": "--data-dir"}, data_dir=args.data_dir)
    configure_logging("WARNING")
    try:
        symbol = parse_symbol(args.symbol)
    except InvalidArgument as error:
        raise SystemExit(f"quantflow audit: SYMBOL: {error}") from None
    try:
        print_lines(asyncio.run(audit(settings, symbol, args.venue)))
    except AuditError as error:
        raise SystemExit(f"quantflow audit: {error}") from None
    return 0


def _backtest(args: argparse.Namespace) -> int:
    from quantflow.backtest.v1 import backtest_service_pb2 as pb
    from services.cli.backtest import (
        DIRECTIONS,
        FILLS,
        BacktestFailed,
        backtest_target,
        metrics_table,
        parse_params,
        parse_time,
        run_backtest,
    )
    from services.cli.up import running_service_token
    from services.common.errors import InvalidArgument
    from services.common.symbols import parse_symbol

    settings, _ = _settings({"data_dir": "--data-dir"}, data_dir=args.data_dir)
    configure_logging("WARNING")
    try:
        given = pb.BacktestInput(
            symbol=parse_symbol(args.symbol),
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
            position_size=args.position_size,
        )
        given.params.update(parse_params(args.param))
        for name in ("stop_loss", "take_profit", "trailing_stop"):
            if getattr(args, name) is not None:
                setattr(given, name, getattr(args, name))
        token = running_service_token(settings)
        result = asyncio.run(run_backtest(backtest_target(settings), given, token))
    except InvalidArgument as error:
        raise SystemExit(f"quantflow backtest: SYMBOL: {error}") from None
    except BacktestFailed as error:
        raise SystemExit(f"quantflow backtest: {error}") from None
    except KeyboardInterrupt:
        return 130
    print("\n".join(metrics_table(result)))
    return 0


def _optimize(args: argparse.Namespace) -> int:
    from services.cli.backtest import BacktestFailed, backtest_target
    from services.cli.optimize import optimize_input, print_lines, run_optimize
    from services.cli.up import running_service_token

    settings, _ = _settings({"data_dir": "--data-dir"}, data_dir=args.data_dir)
    configure_logging("WARNING")
    try:
        given = optimize_input(args)
        token = running_service_token(settings)
        lines = asyncio.run(run_optimize(backtest_target(settings), given, args.top, token))
    except BacktestFailed as error:
        raise SystemExit(f"quantflow optimize: {error}") from None
    except KeyboardInterrupt:
        print("\nquantflow optimize: interrupted; the job is cancelled", file=sys.stderr)
        return 130
    print_lines(lines)
    return 0


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
    up.add_argument(
        "--symbols",
        default=None,
        help="symbols captured live, e.g. BTCUSDT,ETHUSDT (default: QUANTFLOW_SYMBOLS)",
    )
    up.add_argument(
        "--streams",
        default=None,
        help="Binance streams captured live for every symbol, e.g. trade,aggTrade,kline_1h "
        "(default: QUANTFLOW_STREAMS, else trade,aggTrade,kline_1m)",
    )
    up.add_argument(
        "--venue",
        choices=("auto", *VENUES),
        default=None,
        help="market of a replayed capture: auto (default: told by each message's fields), "
        "binance (spot) or binance_usdm (USDⓈ-M futures); only a replay can be forced",
    )
    up.add_argument("--data-dir", default=None, help="where embedded servers keep data")
    up.add_argument(
        "--log-level",
        default=None,
        help="DEBUG, INFO (default), WARNING, ERROR; DEBUG also shows tracebacks of failures",
    )
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

    backfill = commands.add_parser(
        "backfill", help="fetch history from Binance REST into the running stack's store"
    )
    backfill.add_argument("symbol", help="e.g. BTCUSDT")
    backfill.add_argument(
        "--kind", default="trade", help="trade (default), aggTrade or kline_<interval>"
    )
    backfill.add_argument(
        "--from",
        dest="first",
        required=True,
        help="first id (trade, aggTrade) or UTC date/time, e.g. 2024-08-08T23:54:15Z",
    )
    backfill.add_argument(
        "--to", dest="last", required=True, help="last id or UTC date/time (a date: its end)"
    )
    backfill.add_argument("--data-dir", default=None, help="data directory of `quantflow up`")
    backfill.set_defaults(handler=_backfill)

    imports = commands.add_parser(
        "import",
        help="load data.binance.vision files (klines, aggTrades, trades; .zip or .csv)",
    )
    imports.add_argument(
        "paths", nargs="+", metavar="PATH", help="files, or directories to search for them"
    )
    imports.add_argument("--symbol", default=None, help="e.g. BTCUSDT (default: the file name)")
    imports.add_argument(
        "--kind",
        choices=("klines", "aggTrades", "trades"),
        default=None,
        help="what the files hold (default: the file name)",
    )
    imports.add_argument(
        "--interval", default=None, help="klines' interval, e.g. 1m (default: the file name)"
    )
    imports.add_argument(
        "--venue",
        choices=VENUES,
        default=None,
        help="binance (spot) or binance_usdm (USDⓈ-M futures); default: told by the layout",
    )
    imports.add_argument("--data-dir", default=None, help="data directory of `quantflow up`")
    imports.set_defaults(handler=_import)

    user = commands.add_parser("user", help="accounts of the GraphQL API")
    user_commands = user.add_subparsers(dest="user_command", required=True)
    user_add = user_commands.add_parser("add", help="add a user (asks for the password)")
    user_add.add_argument("name", help="lower-case letters, digits, '.', '_' or '-'")
    user_add.add_argument("--admin", action="store_true", help="give the admin role")
    user_add.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    user_add.add_argument("--data-dir", default=None, help="data directory of `quantflow up`")
    user_add.set_defaults(handler=_user)

    audit = commands.add_parser(
        "audit", help="what is stored of a symbol: ranges and holes (with their cause) per kind"
    )
    audit.add_argument("symbol", help="e.g. BTCUSDT")
    audit.add_argument("--venue", choices=VENUES, default=VENUES[0], help="binance (default)")
    audit.add_argument("--data-dir", default=None, help="data directory of `quantflow up`")
    audit.set_defaults(handler=_audit)

    backtest = commands.add_parser(
        "backtest", help="run a strategy over stored candles and print its metrics"
    )
    backtest.add_argument("symbol", help="e.g. BTCUSDT")
    backtest.add_argument("--interval", default="1m", help="candle interval (default 1m)")
    backtest.add_argument(
        "--from", dest="first", required=True, help="first candle open, e.g. 2024-08-01 (UTC)"
    )
    backtest.add_argument(
        "--to", dest="end", required=True, help="end of the range, excluded, e.g. 2024-08-08"
    )
    backtest.add_argument(
        "--strategy", default="sma_cross", help="a strategy name (default sma_cross)"
    )
    backtest.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a strategy parameter, e.g. --param fast=10 --param slow=30; repeat for each",
    )
    backtest.add_argument("--fill", choices=("next_open", "close"), default="next_open")
    backtest.add_argument("--direction", choices=("long_only", "long_short"), default="long_only")
    backtest.add_argument("--cash", type=float, default=10_000.0)
    backtest.add_argument("--fee-rate", type=float, default=0.001, help="0.001 = 0.1%% a fill")
    backtest.add_argument("--slippage-bps", type=float, default=0.0)
    backtest.add_argument("--position-size", type=float, default=1.0)
    backtest.add_argument("--stop-loss", type=float, default=None)
    backtest.add_argument("--take-profit", type=float, default=None)
    backtest.add_argument("--trailing-stop", type=float, default=None)
    backtest.add_argument("--venue", choices=VENUES, default=VENUES[0], help="binance (default)")
    backtest.add_argument("--data-dir", default=None, help="data directory of `quantflow up`")
    backtest.set_defaults(handler=_backtest)

    from services.cli.optimize_flags import add_arguments as add_optimize_arguments

    optimize = commands.add_parser(
        "optimize", help="search a strategy's parameters over stored candles (a job, with progress)"
    )
    add_optimize_arguments(optimize)
    optimize.set_defaults(handler=_optimize)

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
            "export-schema",
            "check-schema",
            "fetch-docs-ui",
            "helm-check",
        ),
    )
    dev.add_argument("rest", nargs=argparse.REMAINDER, help="passed to the underlying tool")
    dev.set_defaults(handler=_dev)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler = args.handler
    try:
        result: int = handler(args)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader left (`quantflow status | head -1`): what the Python docs advise
        # ("Note on SIGPIPE") — no traceback, and no second error when stdout is flushed
        # at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    return result


if __name__ == "__main__":
    sys.exit(main())
