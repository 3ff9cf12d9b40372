"""Synthetic trade tapes for the fake Binance server: consecutive ids per symbol."""

from __future__ import annotations

import json

from tests.fakes.binance_server import Tape


def trade_tape(symbols: tuple[str, ...], count: int, first_id: int = 1000) -> Tape:
    """``count`` trades per symbol, symbols interleaved, ids from ``first_id``, 2024 times."""
    messages = []
    for n in range(count):
        for symbol in symbols:
            data = {
                "e": "trade",
                "E": 1723161255000 + n,
                "s": symbol,
                "t": first_id + n,
                "p": "61583.01000000",
                "q": "0.00100000",
                "T": 1723161255000 + n,
                "m": n % 2 == 0,
                "M": True,
            }
            messages.append((f"{symbol.lower()}@trade", json.dumps(data, separators=(",", ":"))))
    return Tape.from_messages(messages)


def trade_ids(tape: Tape, symbol: str) -> set[int]:
    stream = f"{symbol.lower()}@trade"
    return {json.loads(m.data)["t"] for m in tape.messages if m.stream == stream}
