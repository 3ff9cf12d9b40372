"""The trade every service handles, and the one validation every edge applies to it.

Pure: no grpc, nats, asyncpg or protobuf. Ingest's parser checks each field of an exchange
message with these validators, and storage's decoder checks each event read from the bus
with :func:`validate_trade`, so what one accepts the other accepts too.

Prices and quantities stay decimal strings exactly as the exchange sent them. Times are
integers end to end: a float would round a 13-digit millisecond time.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Self

from services.common import names
from services.common.symbols import parse_symbol


@dataclass(frozen=True, slots=True)
class Trade:
    venue: str
    symbol: str
    trade_id: int
    price: str
    quantity: str
    trade_time_ms: int
    event_time_ms: int
    buyer_is_maker: bool
    received_time_us: int = 0

    @property
    def kind(self) -> str:
        return names.TRADE

    def subject(self, namespace: str = "") -> str:
        return names.market_subject(self.venue, names.TRADE, self.symbol, namespace)

    def msg_id(self) -> str:
        return names.trade_msg_id(self.venue, self.symbol, self.trade_id)

    def sequence(self) -> tuple[str, int]:
        """The series this trade belongs to and its place in it (for logs of ids)."""
        return f"{self.venue}:{self.symbol}", self.trade_id

    def validate(self, now: int | None = None) -> Self:
        validate_trade(self, now)
        return self


# 2017-07-14T00:00:00Z, the day Binance opened: no exchange time we handle is older.
BINANCE_LAUNCH_MS = 1_499_990_400_000
# How far ahead of our clock an exchange time may be. NTP keeps clocks within seconds; an
# hour forgives a badly set machine while still rejecting years-ahead garbage. The demo
# shifts its 2024 capture forward by ~5 s per ~5 s pass, so it stays in the past for years.
CLOCK_SKEW_MS = 3_600_000

# Caps on a decimal string's digits. Binance sends fixed-point values with 8 decimals whose
# integer part fits an int64 (at most 11 integer digits); 20 integer and 18 fraction digits
# leave room for other venues (18-decimal tokens) while keeping every value small enough for
# NUMERIC and for a message, and rejecting padding attacks like "0." + 17,000 zeros + "1".
MAX_INTEGER_DIGITS = 20
MAX_FRACTION_DIGITS = 18

MAX_TRADE_ID = 2**63 - 1  # PostgreSQL bigint and protobuf int64

_DECIMAL_RE = re.compile(r"(-?)([0-9]+)(?:\.([0-9]+))?")
_VENUE_RE = re.compile(r"[a-z0-9_]{1,30}")
_COMMON_VENUES = frozenset({"binance", "binance_usdm"})
# Symbols of trades that passed check_symbol: the fast path of validate_trade (bounded, as a
# feed has few symbols and a flood of made-up ones must not grow it without end).
_CHECKED_SYMBOLS: set[str] = set()
_MAX_CHECKED_SYMBOLS = 4096


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def _preview(text: str) -> str:
    """``text`` for an error message: long inputs shortened, with their length."""
    return repr(text) if len(text) <= 40 else f"{text[:20]!r}… ({len(text)} characters)"


def check_decimal(text: str) -> str:
    """``text`` if it is a plain positive decimal within the digit caps; else ValueError."""
    if _is_plain_positive(text):
        return text  # the common case, quickly; what is wrong with others is told below
    whole, fraction = _decimal_digits(text, signed=False)
    if not (whole + fraction).strip("0"):
        raise ValueError(f"{_preview(text)} must be greater than zero")
    return text


def _is_plain_positive(text: str) -> bool:
    """1 to 20 ASCII digits, optionally a point and 1 to 18 more, not all zeros. String
    methods rather than a regex: half the time, and every trade's price and quantity is
    checked on both sides of the bus. ASCII first: ``str.isdigit`` alone takes "²"."""
    whole, dot, fraction = text.partition(".")
    return (
        text.isascii()
        and whole.isdigit()
        and len(whole) <= MAX_INTEGER_DIGITS
        and (not dot or (fraction.isdigit() and len(fraction) <= MAX_FRACTION_DIGITS))
        and text.strip("0.") != ""
    )


def check_non_negative_decimal(text: str) -> str:
    """``text`` if it is a plain decimal ≥ 0 within the digit caps (volumes, and prices
    where Binance writes an empty side or a quiet day as zero); else ValueError."""
    _decimal_digits(text, signed=False)
    return text


def check_signed_decimal(text: str) -> str:
    """``text`` if it is a plain decimal, maybe negative (a price change), within the caps."""
    _decimal_digits(text, signed=True)
    return text


def check_low_high(low: str, high: str, *inside: str) -> None:
    """ValueError unless ``low`` ≤ every value of ``inside`` ≤ ``high`` (already checked
    decimals): a candle or a day whose high is below its low is garbage."""
    low_value, high_value = Decimal(low), Decimal(high)
    if high_value < low_value:
        raise ValueError(f"high {high} is below low {low}")
    for value in inside:
        if not low_value <= Decimal(value) <= high_value:
            raise ValueError(f"{value} is outside low {low} to high {high}")


def _decimal_digits(text: str, signed: bool) -> tuple[str, str]:
    match = _DECIMAL_RE.fullmatch(text)
    if match is None or (match.group(1) and not signed):
        raise ValueError(f"{_preview(text)} is not a decimal number")
    whole, fraction = match.group(2), match.group(3) or ""
    if len(whole) > MAX_INTEGER_DIGITS:
        raise ValueError(
            f"{_preview(text)} has {len(whole)} integer digits, more than {MAX_INTEGER_DIGITS}"
        )
    if len(fraction) > MAX_FRACTION_DIGITS:
        raise ValueError(
            f"{_preview(text)} has {len(fraction)} fraction digits, more than {MAX_FRACTION_DIGITS}"
        )
    return whole, fraction


def check_epoch_ms(value: int, now: int) -> int:
    """``value`` if it is an epoch-millisecond time from Binance's launch to now + skew."""
    if not BINANCE_LAUNCH_MS <= value <= now + CLOCK_SKEW_MS:
        raise ValueError(
            f"time {value} is not epoch milliseconds between Binance's launch (2017-07-14) and now"
        )
    return value


def normalise_epoch_ms(value: int, now: int) -> int:
    """An exchange time in epoch milliseconds, or microseconds (Binance's ``timeUnit``
    option) turned into milliseconds by integer division; anything else is a ValueError,
    nanoseconds included."""
    if BINANCE_LAUNCH_MS * 1000 <= value <= (now + CLOCK_SKEW_MS) * 1000:
        return value // 1000
    if not BINANCE_LAUNCH_MS <= value <= now + CLOCK_SKEW_MS:
        raise ValueError(
            f"time {value} is neither epoch milliseconds nor microseconds between Binance's "
            "launch (2017-07-14) and now"
        )
    return value


def check_trade_id(value: int) -> int:
    if not 0 <= value <= MAX_TRADE_ID:
        raise ValueError(f"trade id {value} is outside 0 to 2^63 - 1")
    return value


def check_trade_id_or_none(value: int) -> int:
    """A trade id, or -1: Binance's "no trade" in klines and tickers of a quiet period."""
    if value != -1:
        check_trade_id(value)
    return value


def check_count(value: int) -> int:
    if not 0 <= value <= MAX_TRADE_ID:
        raise ValueError(f"count {value} is outside 0 to 2^63 - 1")
    return value


def check_symbol(text: str) -> str:
    """``text`` if it is a symbol already in its canonical upper-case form."""
    if _canonical_symbol(text) != text:
        raise ValueError(f"{_preview(text)} is not an upper-case symbol such as BTCUSDT")
    return text


# A feed has few symbols, each checked for every event (an error is not cached).
_canonical_symbol = functools.lru_cache(maxsize=4096)(parse_symbol)


def check_venue(text: str) -> str:
    if text in _COMMON_VENUES:  # every event is checked: the usual answer without a regex
        return text
    if not _VENUE_RE.fullmatch(text):
        raise ValueError(f"{_preview(text)} is not a venue such as binance")
    return text


def check_received_us(value: int, now: int) -> int:
    """0 (unknown) or our own clock's receive time in epoch microseconds."""
    if value != 0 and not BINANCE_LAUNCH_MS * 1000 <= value <= (now + CLOCK_SKEW_MS) * 1000:
        raise ValueError(f"time {value} is neither 0 nor epoch microseconds up to now")
    return value


Check = tuple[str, Callable[[Any], object], object]


def run_checks(checks: tuple[Check, ...]) -> None:
    """Apply each (field, check, value); ValueError naming the first field that fails."""
    for field, check, value in checks:
        try:
            check(value)
        except ValueError as error:
            raise ValueError(f"{field}: {error}") from None


def validate_trade(trade: Trade, now: int | None = None) -> Trade:
    """``trade`` unchanged if every field is valid; else ValueError naming the field.

    Times must already be milliseconds (the bus contract): no unit is guessed here.
    """
    now = now_ms() if now is None else now
    # The usual trade in one expression, no call per field (a call costs as much as its
    # check, and this runs for every trade on both sides of the bus). Anything it does not
    # pass is checked field by field below, which names what is wrong.
    latest_ms = now + CLOCK_SKEW_MS
    if (
        trade.venue in _COMMON_VENUES
        and trade.symbol in _CHECKED_SYMBOLS
        and 0 <= trade.trade_id <= MAX_TRADE_ID
        and _is_plain_positive(trade.price)
        and _is_plain_positive(trade.quantity)
        and BINANCE_LAUNCH_MS <= trade.trade_time_ms <= latest_ms
        and BINANCE_LAUNCH_MS <= trade.event_time_ms <= latest_ms
        and (
            trade.received_time_us == 0
            or BINANCE_LAUNCH_MS * 1000 <= trade.received_time_us <= latest_ms * 1000
        )
    ):
        return trade
    # The checks written out rather than listed for run_checks: storage runs this for every
    # trade it reads, and building the list (and its partials) cost as much as the checks.
    field = "venue"
    try:
        check_venue(trade.venue)
        field = "symbol"
        check_symbol(trade.symbol)
        if len(_CHECKED_SYMBOLS) < _MAX_CHECKED_SYMBOLS:
            _CHECKED_SYMBOLS.add(trade.symbol)
        field = "trade_id"
        check_trade_id(trade.trade_id)
        field = "price"
        check_decimal(trade.price)
        field = "quantity"
        check_decimal(trade.quantity)
        field = "trade_time_ms"
        check_epoch_ms(trade.trade_time_ms, now)
        field = "event_time_ms"
        check_epoch_ms(trade.event_time_ms, now)
        field = "received_time_us"
        check_received_us(trade.received_time_us, now)
    except ValueError as error:
        raise ValueError(f"{field}: {error}") from None
    return trade
