"""The market events besides trades, and the one validation every edge applies to them.

Pure, like :mod:`services.common.trades` (whose field checks they reuse): ingest's parser
and storage's decoder accept exactly the same events. Each event knows its bus subject and
its ``Nats-Msg-Id`` (from :mod:`services.common.names`), so the publisher needs no branch
per kind. Field names equal the ``market.v1`` protobuf fields, which lets the codec map
every kind the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Self

from services.common import names
from services.common.trades import (
    Check,
    Trade,
    check_count,
    check_decimal,
    check_epoch_ms,
    check_low_high,
    check_non_negative_decimal,
    check_received_us,
    check_signed_decimal,
    check_symbol,
    check_trade_id,
    check_trade_id_or_none,
    check_venue,
    now_ms,
    run_checks,
)


def _common(event: Event, now: int) -> tuple[Check, ...]:
    return (
        ("venue", check_venue, event.venue),
        ("symbol", check_symbol, event.symbol),
        ("received_time_us", partial(check_received_us, now=now), event.received_time_us),
    )


# The longest candle (a month, 31 days): an open one may close that far ahead of the clock.
_LONGEST_KLINE_MS = 31 * 24 * 3_600_000


def _cross(field: str, check: Callable[..., None], *values: str) -> None:
    """Run a check across fields; ValueError naming the field it is reported on."""
    try:
        check(*values)
    except ValueError as error:
        raise ValueError(f"{field}: {error}") from None


@dataclass(frozen=True, slots=True)
class AggTrade:
    """Binance ``aggTrade``: one taker order's fills at one price (spec §4.2)."""

    venue: str
    symbol: str
    agg_id: int
    price: str
    quantity: str
    first_trade_id: int
    last_trade_id: int
    trade_time_ms: int
    event_time_ms: int
    buyer_is_maker: bool
    received_time_us: int = 0

    @property
    def kind(self) -> str:
        return names.AGGTRADE

    def subject(self, namespace: str = "") -> str:
        return names.market_subject(self.venue, self.kind, self.symbol, namespace)

    def msg_id(self) -> str:
        return names.agg_trade_msg_id(self.venue, self.symbol, self.agg_id)

    def sequence(self) -> tuple[str, int]:
        return f"{self.venue}:{self.symbol}:{self.kind}", self.agg_id

    def validate(self, now: int | None = None) -> Self:
        now = now_ms() if now is None else now
        run_checks(
            (
                *_common(self, now),
                ("agg_id", check_trade_id, self.agg_id),
                ("price", check_decimal, self.price),
                ("quantity", check_decimal, self.quantity),
                ("first_trade_id", check_trade_id, self.first_trade_id),
                ("last_trade_id", check_trade_id, self.last_trade_id),
                ("trade_time_ms", partial(check_epoch_ms, now=now), self.trade_time_ms),
                ("event_time_ms", partial(check_epoch_ms, now=now), self.event_time_ms),
            )
        )
        check_trade_range(self.first_trade_id, self.last_trade_id)
        return self


def check_trade_range(first: int, last: int) -> None:
    """An aggregate's trade ids must run forwards."""
    if last < first:
        raise ValueError(f"last_trade_id: {last} is before first trade id {first}")


@dataclass(frozen=True, slots=True)
class Kline:
    """Binance ``kline``: one candle, final (``closed``) or an update of the open one
    (spec §4.3). Only final klines are stored."""

    venue: str
    symbol: str
    interval: str
    open_time_ms: int
    close_time_ms: int
    open: str
    high: str
    low: str
    close: str
    volume: str
    quote_volume: str
    trades: int
    first_trade_id: int
    last_trade_id: int
    taker_buy_volume: str
    taker_buy_quote_volume: str
    closed: bool
    event_time_ms: int
    received_time_us: int = 0

    @property
    def kind(self) -> str:
        return names.kline_kind(self.interval)

    def subject(self, namespace: str = "") -> str:
        return names.market_subject(self.venue, self.kind, self.symbol, namespace)

    def msg_id(self) -> str:
        return names.kline_msg_id(
            self.venue,
            self.symbol,
            self.interval,
            self.open_time_ms,
            self.closed,
            self.event_time_ms,
        )

    def sequence(self) -> tuple[str, int]:
        return f"{self.venue}:{self.symbol}:{self.kind}", self.open_time_ms

    def validate(self, now: int | None = None) -> Self:
        now = now_ms() if now is None else now
        epoch = partial(check_epoch_ms, now=now)
        run_checks(
            (
                *_common(self, now),
                ("interval", names.kline_kind, self.interval),
                ("open_time_ms", epoch, self.open_time_ms),
                # A candle's close time is its end, which may lie ahead of the clock.
                (
                    "close_time_ms",
                    partial(check_epoch_ms, now=now + _LONGEST_KLINE_MS),
                    self.close_time_ms,
                ),
                ("open", check_decimal, self.open),
                ("high", check_decimal, self.high),
                ("low", check_decimal, self.low),
                ("close", check_decimal, self.close),
                ("volume", check_non_negative_decimal, self.volume),
                ("quote_volume", check_non_negative_decimal, self.quote_volume),
                ("trades", check_count, self.trades),
                ("first_trade_id", check_trade_id_or_none, self.first_trade_id),
                ("last_trade_id", check_trade_id_or_none, self.last_trade_id),
                ("taker_buy_volume", check_non_negative_decimal, self.taker_buy_volume),
                (
                    "taker_buy_quote_volume",
                    check_non_negative_decimal,
                    self.taker_buy_quote_volume,
                ),
                ("event_time_ms", epoch, self.event_time_ms),
            )
        )
        check_kline_shape(self.open_time_ms, self.close_time_ms, self.high, self.low)
        return self


def check_kline_shape(open_ms: int, close_ms: int, high: str, low: str) -> None:
    """A candle closes after it opens, and its high is not below its low. (Open and close
    are not checked against them: the spec's own example has an open below its low.)"""
    if close_ms < open_ms:
        raise ValueError(f"close time {close_ms} is before open time {open_ms}")
    _cross("high", check_low_high, low, high)


@dataclass(frozen=True, slots=True)
class BookTicker:
    """Binance ``bookTicker``: best bid and ask (spec §4.6). Spot sends no exchange time."""

    venue: str
    symbol: str
    update_id: int
    bid_price: str
    bid_quantity: str
    ask_price: str
    ask_quantity: str
    received_time_us: int = 0

    @property
    def kind(self) -> str:
        return names.BOOK

    def subject(self, namespace: str = "") -> str:
        return names.market_subject(self.venue, self.kind, self.symbol, namespace)

    def msg_id(self) -> str:
        return names.book_msg_id(self.venue, self.symbol, self.update_id)

    def sequence(self) -> tuple[str, int]:
        return f"{self.venue}:{self.symbol}:{self.kind}", self.update_id

    def validate(self, now: int | None = None) -> Self:
        now = now_ms() if now is None else now
        run_checks(
            (
                *_common(self, now),
                ("update_id", check_trade_id, self.update_id),
                # Zero is an empty side of the book, not an error.
                ("bid_price", check_non_negative_decimal, self.bid_price),
                ("bid_quantity", check_non_negative_decimal, self.bid_quantity),
                ("ask_price", check_non_negative_decimal, self.ask_price),
                ("ask_quantity", check_non_negative_decimal, self.ask_quantity),
            )
        )
        return self


@dataclass(frozen=True, slots=True)
class Ticker:
    """Binance ``24hrTicker``: rolling 24-hour statistics (spec §4.5)."""

    venue: str
    symbol: str
    event_time_ms: int
    price_change: str
    price_change_percent: str
    weighted_average_price: str
    first_price: str
    last_price: str
    last_quantity: str
    best_bid_price: str
    best_bid_quantity: str
    best_ask_price: str
    best_ask_quantity: str
    open: str
    high: str
    low: str
    volume: str
    quote_volume: str
    open_time_ms: int
    close_time_ms: int
    first_trade_id: int
    last_trade_id: int
    trades: int
    received_time_us: int = 0

    @property
    def kind(self) -> str:
        return names.TICKER

    def subject(self, namespace: str = "") -> str:
        return names.market_subject(self.venue, self.kind, self.symbol, namespace)

    def msg_id(self) -> str:
        return names.ticker_msg_id(self.venue, self.symbol, self.kind, self.event_time_ms)

    def sequence(self) -> tuple[str, int]:
        return f"{self.venue}:{self.symbol}:{self.kind}", self.event_time_ms

    def validate(self, now: int | None = None) -> Self:
        now = now_ms() if now is None else now
        epoch = partial(check_epoch_ms, now=now)
        # Prices may be zero: a symbol without trades for a day has no open or last price.
        price = check_non_negative_decimal
        run_checks(
            (
                *_common(self, now),
                ("event_time_ms", epoch, self.event_time_ms),
                ("price_change", check_signed_decimal, self.price_change),
                ("price_change_percent", check_signed_decimal, self.price_change_percent),
                ("weighted_average_price", price, self.weighted_average_price),
                ("first_price", price, self.first_price),
                ("last_price", price, self.last_price),
                ("last_quantity", price, self.last_quantity),
                ("best_bid_price", price, self.best_bid_price),
                ("best_bid_quantity", price, self.best_bid_quantity),
                ("best_ask_price", price, self.best_ask_price),
                ("best_ask_quantity", price, self.best_ask_quantity),
                ("open", price, self.open),
                ("high", price, self.high),
                ("low", price, self.low),
                ("volume", price, self.volume),
                ("quote_volume", price, self.quote_volume),
                ("open_time_ms", epoch, self.open_time_ms),
                ("close_time_ms", epoch, self.close_time_ms),
                ("first_trade_id", check_trade_id_or_none, self.first_trade_id),
                ("last_trade_id", check_trade_id_or_none, self.last_trade_id),
                ("trades", check_count, self.trades),
            )
        )
        _cross("high", check_low_high, self.low, self.high)
        return self


@dataclass(frozen=True, slots=True)
class MiniTicker:
    """Binance ``24hrMiniTicker``: the short 24-hour statistics (spec §4.4)."""

    venue: str
    symbol: str
    event_time_ms: int
    open: str
    high: str
    low: str
    close: str
    volume: str
    quote_volume: str
    received_time_us: int = 0

    @property
    def kind(self) -> str:
        return names.MINITICKER

    def subject(self, namespace: str = "") -> str:
        return names.market_subject(self.venue, self.kind, self.symbol, namespace)

    def msg_id(self) -> str:
        return names.ticker_msg_id(self.venue, self.symbol, self.kind, self.event_time_ms)

    def sequence(self) -> tuple[str, int]:
        return f"{self.venue}:{self.symbol}:{self.kind}", self.event_time_ms

    def validate(self, now: int | None = None) -> Self:
        now = now_ms() if now is None else now
        price = check_non_negative_decimal
        run_checks(
            (
                *_common(self, now),
                ("event_time_ms", partial(check_epoch_ms, now=now), self.event_time_ms),
                ("open", price, self.open),
                ("high", price, self.high),
                ("low", price, self.low),
                ("close", price, self.close),
                ("volume", price, self.volume),
                ("quote_volume", price, self.quote_volume),
            )
        )
        _cross("high", check_low_high, self.low, self.high)
        return self


Event = Trade | AggTrade | Kline | BookTicker | Ticker | MiniTicker
