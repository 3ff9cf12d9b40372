"""Run-time subscription requests (symbols × stream kinds) ↔ Binance stream names. Pure."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from services.common.errors import InvalidArgument
from services.common.names import stream_kind
from services.common.symbols import parse_symbol


@dataclass(frozen=True, slots=True)
class StreamRequest:
    """A validated request: upper-case symbols, stream kinds, and their Binance names."""

    symbols: tuple[str, ...]
    stream_names: tuple[str, ...]


def stream_request(symbols: Iterable[str], streams: Iterable[str]) -> StreamRequest:
    """Check ``symbols`` (``BTCUSDT`` …) and ``streams`` (``trade``, ``kline_1m`` …) and name
    every combination as Binance does (``btcusdt@kline_1m``); InvalidArgument names the
    first bad value."""
    checked = tuple(dict.fromkeys(parse_symbol(s) for s in symbols))
    if not checked:
        raise InvalidArgument("give at least one symbol, e.g. BTCUSDT")
    kinds: list[str] = []
    for kind in dict.fromkeys(streams):
        try:
            stream_kind(kind)
            kinds.append(kind)
        except ValueError as error:
            raise InvalidArgument(str(error)) from None
    if not kinds:
        raise InvalidArgument("give at least one stream, e.g. trade")
    return StreamRequest(checked, tuple(f"{s.lower()}@{k}" for s in checked for k in kinds))


def describe_stream(name: str) -> tuple[str, str]:
    """``btcusdt@kline_1m`` → (``BTCUSDT``, ``kline_1m``)."""
    symbol, _, kind = name.partition("@")
    return symbol.upper(), kind
