"""Kline tapes for the fake Binance server, derived from a data.binance.vision kline CSV:
each real candle becomes one in-progress update (``"x":false``) and its final message
(``"x":true``), as the ``<symbol>@kline_<interval>`` stream sends them."""

from __future__ import annotations

import json
from typing import Any

from tests.fakes.binance_server import Tape


def kline_tape(symbol: str, interval: str, klines: list[list[Any]]) -> Tape:
    """``klines`` are REST kline arrays (tests.fakes.binance_rest.klines_from_csv)."""
    stream = f"{symbol.lower()}@kline_{interval}"
    messages = []
    for row in klines:
        open_ms, close_ms = row[0], row[6]
        for closed, event_ms in ((False, (open_ms + close_ms) // 2), (True, close_ms + 1)):
            candle = {
                "t": open_ms,
                "T": close_ms,
                "s": symbol,
                "i": interval,
                "f": -1,  # the CSV has no trade ids
                "L": -1,
                "o": row[1],
                "c": row[4],
                "h": row[2],
                "l": row[3],
                "v": row[5],
                "n": row[8],
                "x": closed,
                "q": row[7],
                "V": row[9],
                "Q": row[10],
                "B": "0",
            }
            data = {"e": "kline", "E": event_ms, "s": symbol, "k": candle}
            messages.append((stream, json.dumps(data, separators=(",", ":"))))
    return Tape.from_messages(messages)
