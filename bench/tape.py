"""A large trade tape for the end-to-end runs, made from the real capture's trades.

The capture holds 9,757 BTCUSDT trades; the tape repeats them over several symbols and
copies, each copy's ids shifted past the previous one's so every (symbol, id) is new and
each symbol's ids stay consecutive, as a live feed's are. Symbols interleave trade by
trade, as a combined stream delivers them. Event times ``E`` are rewritten to a steady
``rate`` per second, which is what a paced replay (``--speed 1``) follows.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.data import raw_messages, trades
from services.common.trades import Trade

SYMBOLS = ("BTCUSDT", "ETHUSDT", "BNBUSDT")


@dataclass(frozen=True)
class Tape:
    path: Path
    trades: int
    symbols: tuple[str, ...]


def _message(trade: Trade, symbol: str, trade_id: int, event_ms: int) -> str:
    data = {
        "e": "trade",
        "E": event_ms,
        "s": symbol,
        "t": trade_id,
        "p": trade.price,
        "q": trade.quantity,
        "T": trade.trade_time_ms,
        "m": trade.buyer_is_maker,
        "M": True,
    }
    return json.dumps({"stream": f"{symbol.lower()}@trade", "data": data}, separators=(",", ":"))


def write_tape(
    path: Path,
    count: int,
    symbols: Sequence[str] = SYMBOLS,
    rate_per_s: float = 1000.0,
) -> Tape:
    """``count`` trades (a multiple of ``len(symbols)``) over ``symbols`` into ``path``
    (``.jsonl``, one combined-stream message per line)."""
    original = trades()
    span = max(t.trade_id for t in original) - min(t.trade_id for t in original) + 1
    per_symbol = count // len(symbols)
    first_event_ms = original[0].event_time_ms
    with path.open("w") as out:
        for index in range(per_symbol):
            copy, position = divmod(index, len(original))
            trade = original[position]
            trade_id = trade.trade_id + copy * span
            for offset, symbol in enumerate(symbols):
                sequence = index * len(symbols) + offset
                event_ms = first_event_ms + int(sequence * 1000 / rate_per_s)
                out.write(_message(trade, symbol, trade_id, event_ms) + "\n")
    return Tape(path, per_symbol * len(symbols), tuple(symbols))


def trades_only_capture(path: Path) -> Path:
    """The capture's trade messages alone (it also holds bookTickers and depth), so an
    end-to-end run compares like with like against a trades-only collector."""
    with path.open("w") as out:
        for text in raw_messages():
            if '"e":"trade"' in text:
                out.write(text + "\n")
    return path
