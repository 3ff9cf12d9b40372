"""Every name on the bus: streams, subjects, durable consumers and message ids.

Pure functions, so the whole system (and its tests) agree on one spelling. A non-empty
``namespace`` prefixes every subject and stream, which lets several independent stacks
(or test runs) share one NATS server without seeing each other's data.
"""

from __future__ import annotations

import re

VENUE_BINANCE = "binance"
# Binance USDⓈ-M futures: the same symbols as spot (BTCUSDT) but another market, with its
# own trade ids and prices, so it must never share spot's identity.
VENUE_BINANCE_USDM = "binance_usdm"
VENUES = (VENUE_BINANCE, VENUE_BINANCE_USDM)
TRADE = "trade"
GAP = "gap"

_NAMESPACE_RE = re.compile(r"[a-z0-9_]*")
_TOKEN_RE = re.compile(r"[A-Za-z0-9_]+")


def _check_namespace(namespace: str) -> str:
    if not _NAMESPACE_RE.fullmatch(namespace):
        raise ValueError(
            f"namespace {namespace!r} must be lower-case letters, digits or '_' (or empty)"
        )
    return namespace


def _subject(namespace: str, *tokens: str) -> str:
    prefix = (_check_namespace(namespace),) if namespace else ()
    return ".".join((*prefix, *tokens))


def _stream(namespace: str, base: str) -> str:
    return f"{_check_namespace(namespace).upper()}_{base}" if namespace else base


def market_stream(namespace: str = "") -> str:
    """The JetStream stream holding every market event: ``MARKET``."""
    return _stream(namespace, "MARKET")


def market_subjects(namespace: str = "") -> list[str]:
    """Subjects bound to the market stream: ``market.>``."""
    return [_subject(namespace, "market", ">")]


def market_subject(venue: str, kind: str, symbol: str, namespace: str = "") -> str:
    """``market.<venue>.<kind>.<SYMBOL>``, e.g. ``market.binance.trade.BTCUSDT``."""
    for token in (venue, kind, symbol):
        if not _TOKEN_RE.fullmatch(token):
            raise ValueError(f"subject token {token!r} must be letters, digits or '_'")
    return _subject(namespace, "market", venue, kind, symbol.upper())


def trade_subject(symbol: str, venue: str = VENUE_BINANCE, namespace: str = "") -> str:
    """The subject one symbol's trades are published on."""
    return market_subject(venue, TRADE, symbol, namespace)


def all_trades_subject(namespace: str = "") -> str:
    """Every venue's trades, every symbol: ``market.*.trade.*``."""
    return _subject(namespace, "market", "*", TRADE, "*")


def trades_filter_subject(
    venue: str | None = None, symbol: str | None = None, namespace: str = ""
) -> str:
    """Trades of one venue and/or one symbol; ``None`` is a wildcard, e.g.
    ``market.*.trade.BTCUSDT`` (BTCUSDT on every venue)."""
    venue_token = "*" if venue is None else check_venue(venue)
    if symbol is None:
        symbol_token = "*"
    else:
        if not _TOKEN_RE.fullmatch(symbol):
            raise ValueError(f"subject token {symbol!r} must be letters, digits or '_'")
        symbol_token = symbol.upper()
    return _subject(namespace, "market", venue_token, TRADE, symbol_token)


def check_venue(venue: str) -> str:
    """``venue`` if it is one QuantFlow knows, else ``ValueError`` listing the known ones."""
    if venue not in VENUES:
        raise ValueError(f"venue {venue!r} is not one of {', '.join(VENUES)}")
    return venue


def trade_msg_id(venue: str, symbol: str, trade_id: int) -> str:
    """``Nats-Msg-Id`` of a trade: the exchange's own identity, so replays dedupe."""
    return f"{venue}:{symbol.upper()}:{TRADE}:{trade_id}"


def gap_subject(venue: str, symbol: str, namespace: str = "") -> str:
    """Gap events of one symbol's series: ``market.<venue>.gap.<SYMBOL>``."""
    return market_subject(venue, GAP, symbol, namespace)


def all_gaps_subject(namespace: str = "") -> str:
    """Every venue's gap events: ``market.*.gap.*``."""
    return _subject(namespace, "market", "*", GAP, "*")


def gap_msg_id(venue: str, symbol: str, kind: str, first_id: int, last_id: int, state: str) -> str:
    """``Nats-Msg-Id`` of a gap event: one per gap and state, so a resend dedupes."""
    return f"{venue}:{symbol.upper()}:{GAP}:{kind}:{first_id}-{last_id}:{state}"


def deadletter_stream(namespace: str = "") -> str:
    """The stream keeping malformed input for inspection: ``DEADLETTER``."""
    return _stream(namespace, "DEADLETTER")


def deadletter_subjects(namespace: str = "") -> list[str]:
    return [_subject(namespace, "deadletter", ">")]


def deadletter_subject(source: str, namespace: str = "") -> str:
    """``deadletter.<source>``, e.g. ``deadletter.binance``."""
    if not _TOKEN_RE.fullmatch(source):
        raise ValueError(f"dead-letter source {source!r} must be letters, digits or '_'")
    return _subject(namespace, "deadletter", source)


def storage_trades_durable(namespace: str = "") -> str:
    """Durable pull consumer through which storage reads trades."""
    return f"{namespace}_storage_trades" if namespace else "storage_trades"
