"""The benchmark input: the real Binance capture the end-to-end test replays."""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

from services.common.trades import Trade
from services.ingest.binance import parse_message
from services.ingest.recordings import read_recording

CAPTURE = (
    Path(__file__).resolve().parent.parent
    / "tests"
    / "fixtures"
    / "binance"
    / "binance_spot_btcusdt_2024-08-08.hftbacktest.gz"
)


def raw_messages(limit: int | None = None) -> list[str]:
    """The capture's raw WebSocket messages (the ``<receive_ns>`` prefix removed)."""
    recorded = read_recording(CAPTURE)
    return [message.text for message in itertools.islice(recorded, limit)]


def trades(limit: int | None = None, copies: int = 1) -> list[Trade]:
    """The capture's trades; ``copies`` > 1 repeats them with new trade ids (same prices)."""
    parsed = (parse_message(text) for text in raw_messages(limit))
    original = [verdict for verdict in parsed if isinstance(verdict, Trade)]
    if not original:
        return []
    span = max(t.trade_id for t in original) - min(t.trade_id for t in original) + 1
    return [
        dataclasses.replace(trade, trade_id=trade.trade_id + copy * span)
        for copy in range(copies)
        for trade in original
    ]


def tape_trades(path: Path) -> list[Trade]:
    """The trades of a tape written by :func:`bench.tape.write_tape`, as ingest parses them."""
    with path.open() as lines:
        parsed = (parse_message(line) for line in lines)
        return [verdict for verdict in parsed if isinstance(verdict, Trade)]
