"""The flags of ``quantflow optimize`` (kept apart so building the parser imports no gRPC)."""

from __future__ import annotations

import argparse

from services.common.names import VENUES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("symbol", help="e.g. BTCUSDT")
    parser.add_argument("--interval", default="1m", help="candle interval (default 1m)")
    parser.add_argument("--from", dest="first", required=True, help="first candle open (UTC)")
    parser.add_argument("--to", dest="end", required=True, help="end of the range, excluded")
    parser.add_argument("--strategy", default="sma_cross", help="default sma_cross")
    parser.add_argument(
        "--range",
        dest="ranges",
        action="append",
        default=[],
        metavar="NAME=START:STOP[:STEP]",
        help="values to try (stop included), e.g. --range fast=5:50:5; repeat for each",
    )
    parser.add_argument(
        "--constraint",
        dest="constraints",
        action="append",
        default=[],
        help='a rule every set keeps, e.g. "fast < slow"',
    )
    parser.add_argument("--objective", default="sharpe", help="what to maximise (default sharpe)")
    parser.add_argument(
        "--random",
        type=int,
        default=None,
        metavar="BUDGET",
        help="draw BUDGET distinct sets at random instead of the whole grid",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of --random (default 0)")
    parser.add_argument(
        "--walk-forward",
        default=None,
        metavar="TRAIN:TEST[:anchored]",
        help="walk forward: TRAIN in-sample bars, then TEST out-of-sample bars, rolling "
        "(default) or anchored",
    )
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a parameter kept fixed (not searched)",
    )
    parser.add_argument("--top", type=int, default=10, help="rows to print (default 10)")
    parser.add_argument("--fill", choices=("next_open", "close"), default="next_open")
    parser.add_argument("--direction", choices=("long_only", "long_short"), default="long_only")
    parser.add_argument("--cash", type=float, default=10_000.0)
    parser.add_argument("--fee-rate", type=float, default=0.001, help="0.001 = 0.1%% a fill")
    parser.add_argument("--slippage-bps", type=float, default=0.0)
    parser.add_argument("--venue", choices=VENUES, default=VENUES[0], help="binance (default)")
    parser.add_argument("--data-dir", default=None, help="data directory of `quantflow up`")
