"""data.binance.vision archive files (klines, aggTrades, trades) → normalised events.

Pure: this module reads lines of text, never files or databases. The rows become the same
:class:`~services.common.events.Kline`, :class:`~services.common.events.AggTrade` and
:class:`~services.common.trades.Trade` events the WebSocket and REST parsers make, checked
by the same field rules (:mod:`services.common.trades`), so an imported candle is stored
exactly like a live one.

What a file holds comes from its standard name (``BTCUSDT-1m-2022-05-05.zip``,
``BTCUSDT-aggTrades-2022-05.zip``, ``BTCUSDT-trades-2022-05-05.csv``; ``1mo`` is Binance's
file name for ``1M``) or from what the caller was told (``--symbol --kind --interval``),
which wins over the name.

Layouts (spec §10; the futures columns are those of their header rows):

========== ======================================== ====================================
kind        spot (``binance``)                        USDⓈ-M futures (``binance_usdm``)
========== ======================================== ====================================
klines      12 columns, never a header row            12 columns, a header row since ~2022-05
aggTrades   8 columns (… is_buyer_maker, best_match)  7 columns, a header row since 2022-08
trades      7 columns (… is_buyer_maker, best_match)  6 columns, a header row since 2022-08
========== ======================================== ====================================

**Which venue a file is**, unless the caller says: trades and aggTrades by their number of
columns (only spot files carry the best-match column); klines, whose columns are the same,
by a header row (spot files never have one: binance/binance-public-data#283), else by how
the first row prints its numbers: spot prints every open, high, low, close and volume with
exactly 8 decimals, futures with the symbol's tick and step sizes (BTCUSDT ``39684.10``,
``138.066``), and no futures symbol has a step size of 8 decimals.

A header row is a first line whose first field is not an integer. Times are epoch
milliseconds or, in spot files since 2025, microseconds: each value is told by its
magnitude (:func:`services.common.trades.normalise_epoch_ms`) and stored in milliseconds.
A row that breaks a rule is a :class:`BadFile` naming the file, the line and the column:
nothing is skipped silently.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from services.common import names, trades
from services.common.events import AggTrade, Event, Kline, check_kline_shape, check_trade_range
from services.common.names import VENUE_BINANCE, VENUE_BINANCE_USDM
from services.common.trades import Trade

KLINES = "klines"
AGG_TRADES = "aggTrades"
TRADES = "trades"
KINDS = (KLINES, AGG_TRADES, TRADES)

# The longest candle (a month): a kline's close time may lie that far after its open.
_LONGEST_KLINE_MS = 31 * 24 * 3_600_000
_SPOT_DECIMALS = 8

_NAME_RE = re.compile(
    r"(?P<symbol>[A-Z0-9]+)-(?P<kind>aggTrades|trades|[0-9]+[smhdw]|1mo)-"
    r"(?P<period>[0-9]{4}-[0-9]{2}(?:-[0-9]{2})?)\.(?:zip|csv)"
)


class BadFile(ValueError):
    """A file that cannot be imported as it is; the message names it (and the line)."""


@dataclass(frozen=True, slots=True)
class Given:
    """What the caller says a file holds; None: take it from the name (venue: the layout)."""

    symbol: str | None = None
    kind: str | None = None
    interval: str | None = None
    venue: str | None = None


@dataclass(frozen=True, slots=True)
class Contents:
    """What a file holds: ``kind`` is one of :data:`KINDS`; ``interval`` only for klines;
    ``venue`` None until the layout tells it."""

    symbol: str
    kind: str
    interval: str | None
    venue: str | None

    def describe(self) -> str:
        what = f"{self.interval} klines" if self.kind == KLINES else self.kind
        return f"{self.venue or '?'} {self.symbol} {what}"


def identify(file_name: str, given: Given = Given()) -> Contents:
    """What ``file_name`` holds, from its standard name and ``given`` (which wins);
    :class:`BadFile` saying which flag to give when neither tells."""
    match = _NAME_RE.fullmatch(file_name)
    named_kind = match and match["kind"]
    symbol = given.symbol or (match["symbol"] if match else None)
    kind = given.kind or (
        named_kind if named_kind in (AGG_TRADES, TRADES) else KLINES if match else None
    )
    interval = given.interval
    if interval is None and kind == KLINES and named_kind not in (None, AGG_TRADES, TRADES):
        interval = "1M" if named_kind == "1mo" else named_kind
    missing = [flag for flag, value in (("--symbol", symbol), ("--kind", kind)) if value is None]
    if kind == KLINES and interval is None:
        missing.append("--interval")
    if missing:
        also = " (klines: also --interval)" if kind is None else ""
        raise BadFile(
            f"{file_name}: not a standard data.binance.vision name "
            f"(e.g. BTCUSDT-1m-2022-05-05.zip); give {' and '.join(missing)}{also}"
        )
    assert symbol is not None and kind is not None
    try:
        trades.check_symbol(symbol)
        if kind not in KINDS:
            raise ValueError(f"kind {kind!r} is not one of {', '.join(KINDS)}")
        if kind == KLINES:
            names.kline_kind(interval or "")
        elif given.interval is not None:
            raise ValueError(f"an interval ({interval}) is for klines, not {kind}")
        if given.venue is not None and given.venue not in names.VENUES:
            raise ValueError(f"venue {given.venue!r} is not one of {', '.join(names.VENUES)}")
    except ValueError as error:
        raise BadFile(f"{file_name}: {error}") from None
    return Contents(symbol, kind, interval if kind == KLINES else None, given.venue)


# Columns of each kind per venue; klines have the same 12 in both.
_COLUMNS = {
    KLINES: {VENUE_BINANCE: 12, VENUE_BINANCE_USDM: 12},
    AGG_TRADES: {VENUE_BINANCE: 8, VENUE_BINANCE_USDM: 7},
    TRADES: {VENUE_BINANCE: 7, VENUE_BINANCE_USDM: 6},
}


def detect_venue(kind: str, first_row: list[str], has_header: bool) -> str:
    """The venue of a file by its layout (the rule in the module docstring); ValueError
    when the row fits neither."""
    count = len(first_row)
    if kind != KLINES:
        for venue, columns in _COLUMNS[kind].items():
            if count == columns:
                return venue
        spot, usdm = _COLUMNS[kind][VENUE_BINANCE], _COLUMNS[kind][VENUE_BINANCE_USDM]
        raise ValueError(f"{count} columns; {kind} files have {spot} (spot) or {usdm} (USDⓈ-M)")
    if has_header:
        return VENUE_BINANCE_USDM
    prices_and_volume = first_row[1:6]
    if all(_decimals(value) == _SPOT_DECIMALS for value in prices_and_volume):
        return VENUE_BINANCE
    return VENUE_BINANCE_USDM


def _decimals(text: str) -> int:
    _, point, fraction = text.partition(".")
    return len(fraction) if point else 0


def _boolean(text: str) -> bool:
    # Spot files write True/False, futures files true/false (spec §10).
    if text in ("True", "true"):
        return True
    if text in ("False", "false"):
        return False
    raise ValueError(f"{text!r} is neither true nor false")


def _integer(text: str) -> int:
    if not text.isdigit() and not (text.startswith("-") and text[1:].isdigit()):
        raise ValueError(f"{text!r} is not an integer")
    return int(text)


# The common row of each kind in one match: integers and plain decimals within the digit
# caps of services.common.trades (a row that does not match takes the column-by-column
# path, which accepts the same rows and names the column of a bad one).
_INTEGER = r"([0-9]{1,19})"
_DECIMAL = (
    rf"([0-9]{{1,{trades.MAX_INTEGER_DIGITS}}}(?:\.[0-9]{{1,{trades.MAX_FRACTION_DIGITS}}})?)"
)
_BOOLEAN = r"(True|False|true|false)"
_KLINE = [_INTEGER, *[_DECIMAL] * 5, _INTEGER, _DECIMAL, _INTEGER, _DECIMAL, _DECIMAL, "[^,]*"]
_AGG_TRADE = [_INTEGER, _DECIMAL, _DECIMAL, _INTEGER, _INTEGER, _INTEGER, _BOOLEAN]
_TRADE = [_INTEGER, _DECIMAL, _DECIMAL, _DECIMAL, _INTEGER, _BOOLEAN]
# Spot trades and aggTrades end with the best-match column (its value is not stored).
_PATTERNS = {
    (KLINES, VENUE_BINANCE): _KLINE,
    (KLINES, VENUE_BINANCE_USDM): _KLINE,
    (AGG_TRADES, VENUE_BINANCE): [*_AGG_TRADE, _BOOLEAN],
    (AGG_TRADES, VENUE_BINANCE_USDM): _AGG_TRADE,
    (TRADES, VENUE_BINANCE): [*_TRADE, _BOOLEAN],
    (TRADES, VENUE_BINANCE_USDM): _TRADE,
}
_FAST = {layout: re.compile(",".join(columns)) for layout, columns in _PATTERNS.items()}
_TRUE = ("True", "true")


def _positive(text: str) -> str:
    if not text.strip("0."):
        trades.check_decimal(text)  # raises, saying why
    return text


def _checked(fields: list[str], column: str, index: int, check: Callable[[str], object]) -> None:
    try:
        check(fields[index])
    except ValueError as error:
        raise ValueError(f"{column}: {error}") from None


def kline_row(fields: list[str], contents: Contents, now: int) -> Kline:
    """``open_time, open, high, low, close, volume, close_time, quote_volume, count,
    taker_buy_volume, taker_buy_quote_volume, ignore``."""
    column = "open_time"
    try:
        open_time = trades.normalise_epoch_ms(_integer(fields[0]), now)
        column = "close_time"
        close_time = trades.normalise_epoch_ms(_integer(fields[6]), now + _LONGEST_KLINE_MS)
        column = "count"
        count = trades.check_count(_integer(fields[8]))
    except ValueError as error:
        raise ValueError(f"{column}: {error}") from None
    for name, index in (("open", 1), ("high", 2), ("low", 3), ("close", 4)):
        _checked(fields, name, index, trades.check_decimal)
    for name, index in (
        ("volume", 5), ("quote_volume", 7), ("taker_buy_volume", 9),
        ("taker_buy_quote_volume", 10),
    ):  # fmt: skip
        _checked(fields, name, index, trades.check_non_negative_decimal)
    # Its messages name the column: "close time … is before open time …", "high: …".
    check_kline_shape(open_time, close_time, fields[2], fields[3])
    return _kline(fields, contents, open_time, close_time, count)


def _fast_kline(match: re.Match[str], contents: Contents, now: int) -> Kline | None:
    fields = list(match.groups())
    try:
        open_time = trades.normalise_epoch_ms(int(fields[0]), now)
        close_time = trades.normalise_epoch_ms(int(fields[6]), now + _LONGEST_KLINE_MS)
        for index in (1, 2, 3, 4):
            _positive(fields[index])
        count = trades.check_count(int(fields[8]))
        check_kline_shape(open_time, close_time, fields[2], fields[3])
    except ValueError:
        return None
    return _kline(fields, contents, open_time, close_time, count)


def _kline(
    fields: list[str], contents: Contents, open_time: int, close_time: int, count: int
) -> Kline:
    assert contents.venue is not None and contents.interval is not None
    return Kline(
        venue=contents.venue,
        symbol=contents.symbol,
        interval=contents.interval,
        open_time_ms=open_time,
        close_time_ms=close_time,
        open=fields[1],
        high=fields[2],
        low=fields[3],
        close=fields[4],
        volume=fields[5],
        quote_volume=fields[7],
        trades=count,
        # The files carry no trade ids; -1 is Binance's own "none" (as for REST klines).
        first_trade_id=-1,
        last_trade_id=-1,
        taker_buy_volume=fields[9],
        taker_buy_quote_volume=fields[10],
        closed=True,
        # A final candle is reported when it closes.
        event_time_ms=close_time,
    )


def agg_trade_row(fields: list[str], contents: Contents, now: int) -> AggTrade:
    """``agg_trade_id, price, quantity, first_trade_id, last_trade_id, transact_time,
    is_buyer_maker[, is_best_match]``."""
    column = "agg_trade_id"
    try:
        agg_id = trades.check_trade_id(_integer(fields[0]))
        column = "price"
        trades.check_decimal(fields[1])
        column = "quantity"
        trades.check_decimal(fields[2])
        column = "first_trade_id"
        first = trades.check_trade_id(_integer(fields[3]))
        column = "last_trade_id"
        last = trades.check_trade_id(_integer(fields[4]))
        check_trade_range(first, last)
        column = "transact_time"
        trade_time = trades.normalise_epoch_ms(_integer(fields[5]), now)
        column = "is_buyer_maker"
        buyer_is_maker = _boolean(fields[6])
        if len(fields) > 7:
            column = "is_best_match"
            _boolean(fields[7])
    except ValueError as error:
        raise ValueError(f"{column}: {error}") from None
    return _agg_trade(fields, contents, agg_id, first, last, trade_time, buyer_is_maker)


def _fast_agg_trade(match: re.Match[str], contents: Contents, now: int) -> AggTrade | None:
    fields = list(match.groups())
    try:
        agg_id, first, last = (trades.check_trade_id(int(fields[i])) for i in (0, 3, 4))
        _positive(fields[1])
        _positive(fields[2])
        check_trade_range(first, last)
        trade_time = trades.normalise_epoch_ms(int(fields[5]), now)
    except ValueError:
        return None
    return _agg_trade(fields, contents, agg_id, first, last, trade_time, fields[6] in _TRUE)


def _agg_trade(
    fields: list[str],
    contents: Contents,
    agg_id: int,
    first: int,
    last: int,
    trade_time: int,
    buyer_is_maker: bool,
) -> AggTrade:
    assert contents.venue is not None
    return AggTrade(
        venue=contents.venue,
        symbol=contents.symbol,
        agg_id=agg_id,
        price=fields[1],
        quantity=fields[2],
        first_trade_id=first,
        last_trade_id=last,
        trade_time_ms=trade_time,
        event_time_ms=trade_time,
        buyer_is_maker=buyer_is_maker,
    )


def trade_row(fields: list[str], contents: Contents, now: int) -> Trade:
    """``id, price, qty, quote_qty, time, is_buyer_maker[, is_best_match]``."""
    column = "id"
    try:
        trade_id = trades.check_trade_id(_integer(fields[0]))
        column = "price"
        trades.check_decimal(fields[1])
        column = "qty"
        trades.check_decimal(fields[2])
        column = "quote_qty"  # not stored: price × qty
        trades.check_non_negative_decimal(fields[3])
        column = "time"
        trade_time = trades.normalise_epoch_ms(_integer(fields[4]), now)
        column = "is_buyer_maker"
        buyer_is_maker = _boolean(fields[5])
        if len(fields) > 6:
            column = "is_best_match"
            _boolean(fields[6])
    except ValueError as error:
        raise ValueError(f"{column}: {error}") from None
    return _trade(fields, contents, trade_id, trade_time, buyer_is_maker)


def _fast_trade(match: re.Match[str], contents: Contents, now: int) -> Trade | None:
    fields = list(match.groups())
    try:
        trade_id = trades.check_trade_id(int(fields[0]))
        _positive(fields[1])
        _positive(fields[2])
        trade_time = trades.normalise_epoch_ms(int(fields[4]), now)
    except ValueError:
        return None
    return _trade(fields, contents, trade_id, trade_time, fields[5] in _TRUE)


def _trade(
    fields: list[str], contents: Contents, trade_id: int, trade_time: int, buyer_is_maker: bool
) -> Trade:
    assert contents.venue is not None
    return Trade(
        venue=contents.venue,
        symbol=contents.symbol,
        trade_id=trade_id,
        price=fields[1],
        quantity=fields[2],
        trade_time_ms=trade_time,
        event_time_ms=trade_time,
        buyer_is_maker=buyer_is_maker,
    )


@dataclass(frozen=True, slots=True)
class _Layout:
    """How rows of one kind are read: ``fast`` takes a row its venue's pattern matched
    (None if a rule fails), anything else goes to ``careful``: column by column, the same
    rules, ValueError naming the bad column."""

    fast: Callable[[re.Match[str], Contents, int], Event | None]
    careful: Callable[[list[str], Contents, int], Event]


_LAYOUTS = {
    KLINES: _Layout(_fast_kline, kline_row),
    AGG_TRADES: _Layout(_fast_agg_trade, agg_trade_row),
    TRADES: _Layout(_fast_trade, trade_row),
}


def _is_header(first_field: str) -> bool:
    return not first_field.lstrip("-").isdigit()


class FileReader:
    """Reads one file's lines into chunks of events. ``contents.venue`` and ``has_header``
    are known once the first chunk is out; ``rows`` counts the data rows read so far."""

    def __init__(self, source: str, contents: Contents, now_ms: int | None = None) -> None:
        self.source = source
        self.contents = contents
        self.has_header = False
        self.rows = 0
        self._now = trades.now_ms() if now_ms is None else now_ms
        self._layout = _LAYOUTS[contents.kind]

    def chunks(self, lines: Iterable[str], size: int) -> Iterator[list[Event]]:
        """Events of ``lines`` (a file's text lines, newlines kept or not), ``size`` at a
        time; :class:`BadFile` naming the line of the first bad row."""
        chunk: list[Event] = []
        columns = 0
        fast, careful = self._layout.fast, self._layout.careful
        contents, now = self.contents, self._now
        pattern = _FAST[(contents.kind, VENUE_BINANCE)]
        for number, line in enumerate(lines, start=1):
            line = line.rstrip("\r\n")
            if not columns:
                fields = line.split(",")
                if number == 1 and _is_header(fields[0]):
                    self.has_header = True
                    continue
                contents = self._settle_venue(fields, number)
                columns = _COLUMNS[contents.kind][contents.venue or ""]
                pattern = _FAST[(contents.kind, contents.venue or "")]
            match = pattern.fullmatch(line)
            event = fast(match, contents, now) if match else None
            if event is None:
                fields = line.split(",")
                if len(fields) != columns:
                    raise self._bad(number, f"{len(fields)} columns, expected {columns}")
                try:
                    event = careful(fields, contents, now)
                except ValueError as error:
                    raise self._bad(number, str(error)) from None
            chunk.append(event)
            self.rows += 1
            if len(chunk) >= size:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    def _settle_venue(self, first_row: list[str], number: int) -> Contents:
        kind = self.contents.kind
        try:
            detected = detect_venue(kind, first_row, self.has_header)
        except ValueError as error:
            raise self._bad(number, str(error)) from None
        given = self.contents.venue
        if given is not None and kind != KLINES and given != detected:
            raise self._bad(
                number,
                f"{len(first_row)} columns is the {detected} layout of {kind}, "
                f"but the venue given is {given}",
            )
        self.contents = Contents(
            self.contents.symbol, kind, self.contents.interval, given or detected
        )
        return self.contents

    def _bad(self, number: int, reason: str) -> BadFile:
        return BadFile(f"{self.source} line {number}: {reason}")
