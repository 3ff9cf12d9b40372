"""The one spelling of an exchange symbol, shared by settings, parser, gRPC and GraphQL. Pure."""

from __future__ import annotations

import re

from services.common.errors import InvalidArgument

# Binance spot symbols are base + quote asset in upper-case letters and digits
# ("BTCUSDT", "1000SATSUSDT"); they also become one NATS subject token, which rules out
# '-', '.' and spaces.
_SYMBOL_RE = re.compile(r"[A-Z0-9]{2,30}")


def parse_symbol(text: str) -> str:
    """``text`` stripped and upper-cased; :class:`InvalidArgument` unless it is a symbol."""
    symbol = text.strip().upper()
    if not _SYMBOL_RE.fullmatch(symbol):
        raise InvalidArgument(
            f"{text[:40]!r} is not an exchange symbol such as BTCUSDT (2 to 30 letters or digits)"
        )
    return symbol
