"""Where each market event kind is stored: its table's columns, its row, and the SQL that
moves a COPY'd staging batch into place idempotently.

Every write is the same path (see :meth:`services.storage.repository.TradeRepository.write`):
COPY the batch into a per-connection temporary staging table, then the kind's statements,
which insert with ``ON CONFLICT DO NOTHING`` (history keyed by the exchange's identity) or
upsert only forwards (latest-per-symbol rows). A replayed or redelivered batch changes
nothing. Adding a stored kind is adding one :class:`Table` here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from services.common.events import AggTrade, BookTicker, Event, Kline, Ticker
from services.common.trades import Trade
from services.storage.storage_mode import StorageMode

# Integer arithmetic only: a float epoch in seconds cannot hold every millisecond exactly.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def ms_to_datetime(ms: int) -> datetime:
    return EPOCH + timedelta(milliseconds=ms)


def datetime_to_ms(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(milliseconds=1)


def _received_at(received_time_us: int) -> datetime | None:
    return EPOCH + timedelta(microseconds=received_time_us) if received_time_us else None


@dataclass(frozen=True)
class Table:
    """One stored kind: :meth:`statements` run after the COPY into ``staging`` (a temporary
    copy of ``like``'s columns); the row count of the first is what the batch added.

    History (``key`` given) is inserted into ``like`` where new by that key; ``latest``
    statements follow (latest-per-symbol rows)."""

    name: str
    like: str
    columns: tuple[str, ...]
    row: Callable[[Any], tuple[object, ...]]
    # The exchange's identity of a history row; None: the kind keeps latest rows only.
    key: tuple[str, ...] | None
    # The time column of a table that is a hypertable in ``timescaledb`` mode.
    time_column: str | None = None
    latest: tuple[str, ...] = ()

    @property
    def staging(self) -> str:
        return f"{self.name}_staging"

    def conflict_key(self, mode: StorageMode) -> tuple[str, ...]:
        """The unique key in force for history rows: the exchange's identity, plus the time
        column where the table is a hypertable (TimescaleDB requires it in every unique
        index; an exchange id always carries the same time, so the key is as idempotent).
        The migrations create exactly these keys (timescale/0007_hypertables.sql)."""
        if self.key is None:
            raise ValueError(f"{self.name} keeps latest rows only, keyed by venue and symbol")
        time = self.time_column
        if mode is StorageMode.TIMESCALEDB and time is not None and time not in self.key:
            return (*self.key, time)
        return self.key

    def statements(self, mode: StorageMode) -> tuple[str, ...]:
        if self.key is None:
            return self.latest
        key = ", ".join(self.conflict_key(mode))
        return (_insert_new(self.like, self.columns, key, self.staging), *self.latest)


def _insert_new(table: str, columns: tuple[str, ...], key: str, staging: str) -> str:
    listed = ", ".join(columns)
    return (
        f"INSERT INTO {table} ({listed}) SELECT DISTINCT ON ({key}) {listed} FROM {staging} "
        f"ON CONFLICT ({key}) DO NOTHING"
    )


def _upsert_latest(table: str, columns: tuple[str, ...], order: str, staging: str) -> str:
    """The newest row per (venue, symbol) of the batch, replacing an older stored one only:
    a redelivered or late batch never moves a symbol backwards."""
    listed = ", ".join(columns)
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c not in ("venue", "symbol"))
    return (
        f"INSERT INTO {table} ({listed}) SELECT DISTINCT ON (venue, symbol) {listed} "
        f"FROM {staging} ORDER BY venue, symbol, {order} DESC "
        f"ON CONFLICT (venue, symbol) DO UPDATE SET {updates} "
        f"WHERE {table}.{order} < EXCLUDED.{order}"
    )


_TRADE_COLUMNS = (
    "symbol",
    "trade_id",
    "price",
    "quantity",
    "trade_time",
    "buyer_is_maker",
    "venue",
    "received_at",
)


def _trade_row(trade: Trade) -> tuple[object, ...]:
    return (
        trade.symbol,
        trade.trade_id,
        Decimal(trade.price),
        Decimal(trade.quantity),
        ms_to_datetime(trade.trade_time_ms),
        trade.buyer_is_maker,
        trade.venue,
        _received_at(trade.received_time_us),
    )


TRADES = Table(
    "trades",
    "trades",
    _TRADE_COLUMNS,
    _trade_row,
    key=("venue", "symbol", "trade_id"),
    time_column="trade_time",
    latest=(
        """INSERT INTO latest_prices (venue, symbol, trade_id, price, quantity, trade_time)
           SELECT DISTINCT ON (venue, symbol)
               venue, symbol, trade_id, price, quantity, trade_time
           FROM trades_staging ORDER BY venue, symbol, trade_id DESC
           ON CONFLICT (venue, symbol) DO UPDATE SET
               trade_id = EXCLUDED.trade_id, price = EXCLUDED.price,
               quantity = EXCLUDED.quantity, trade_time = EXCLUDED.trade_time,
               updated_at = now()
           WHERE latest_prices.trade_id < EXCLUDED.trade_id""",
    ),
)

_AGG_TRADE_COLUMNS = (
    "venue",
    "symbol",
    "agg_id",
    "price",
    "quantity",
    "first_trade_id",
    "last_trade_id",
    "trade_time",
    "buyer_is_maker",
    "received_at",
)


def _agg_trade_row(event: AggTrade) -> tuple[object, ...]:
    return (
        event.venue,
        event.symbol,
        event.agg_id,
        Decimal(event.price),
        Decimal(event.quantity),
        event.first_trade_id,
        event.last_trade_id,
        ms_to_datetime(event.trade_time_ms),
        event.buyer_is_maker,
        _received_at(event.received_time_us),
    )


AGG_TRADES = Table(
    "agg_trades",
    "agg_trades",
    _AGG_TRADE_COLUMNS,
    _agg_trade_row,
    key=("venue", "symbol", "agg_id"),
    time_column="trade_time",
)

_KLINE_COLUMNS = (
    "venue",
    "symbol",
    "interval",
    "open_time",
    "close_time",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "quote_volume",
    "trades",
    "first_trade_id",
    "last_trade_id",
    "taker_buy_volume",
    "taker_buy_quote_volume",
    "received_at",
)


def _kline_row(k: Kline) -> tuple[object, ...]:
    return (
        k.venue,
        k.symbol,
        k.interval,
        ms_to_datetime(k.open_time_ms),
        ms_to_datetime(k.close_time_ms),
        Decimal(k.open),
        Decimal(k.high),
        Decimal(k.low),
        Decimal(k.close),
        Decimal(k.volume),
        Decimal(k.quote_volume),
        k.trades,
        k.first_trade_id,
        k.last_trade_id,
        Decimal(k.taker_buy_volume),
        Decimal(k.taker_buy_quote_volume),
        _received_at(k.received_time_us),
    )


KLINES = Table(
    "klines",
    "klines",
    _KLINE_COLUMNS,
    _kline_row,
    key=("venue", "symbol", "interval", "open_time"),
    time_column="open_time",
)

_BOOK_COLUMNS = (
    "venue",
    "symbol",
    "update_id",
    "bid_price",
    "bid_quantity",
    "ask_price",
    "ask_quantity",
    "received_at",
)


def _book_row(b: BookTicker) -> tuple[object, ...]:
    return (
        b.venue,
        b.symbol,
        b.update_id,
        Decimal(b.bid_price),
        Decimal(b.bid_quantity),
        Decimal(b.ask_price),
        Decimal(b.ask_quantity),
        _received_at(b.received_time_us),
    )


BOOK_TICKERS = Table(
    "book_tickers",
    "book_tickers",
    _BOOK_COLUMNS,
    _book_row,
    key=None,
    latest=(_upsert_latest("book_tickers", _BOOK_COLUMNS, "update_id", "book_tickers_staging"),),
)

_TICKER_COLUMNS = (
    "venue",
    "symbol",
    "event_time",
    "price_change",
    "price_change_percent",
    "weighted_average_price",
    "first_price",
    "last_price",
    "last_quantity",
    "best_bid_price",
    "best_bid_quantity",
    "best_ask_price",
    "best_ask_quantity",
    "open",
    "high",
    "low",
    "volume",
    "quote_volume",
    "open_time",
    "close_time",
    "first_trade_id",
    "last_trade_id",
    "trades",
    "received_at",
)


def _ticker_row(t: Ticker) -> tuple[object, ...]:
    return (
        t.venue,
        t.symbol,
        ms_to_datetime(t.event_time_ms),
        *(
            Decimal(value)
            for value in (
                t.price_change,
                t.price_change_percent,
                t.weighted_average_price,
                t.first_price,
                t.last_price,
                t.last_quantity,
                t.best_bid_price,
                t.best_bid_quantity,
                t.best_ask_price,
                t.best_ask_quantity,
                t.open,
                t.high,
                t.low,
                t.volume,
                t.quote_volume,
            )
        ),
        ms_to_datetime(t.open_time_ms),
        ms_to_datetime(t.close_time_ms),
        t.first_trade_id,
        t.last_trade_id,
        t.trades,
        _received_at(t.received_time_us),
    )


TICKERS = Table(
    "tickers",
    "ticker_history",
    _TICKER_COLUMNS,
    _ticker_row,
    key=("venue", "symbol", "event_time"),
    latest=(_upsert_latest("tickers", _TICKER_COLUMNS, "event_time", "tickers_staging"),),
)

ALL = (TRADES, AGG_TRADES, KLINES, BOOK_TICKERS, TICKERS)
_BY_EVENT: dict[type[Event], Table] = {
    Trade: TRADES,
    AggTrade: AGG_TRADES,
    Kline: KLINES,
    BookTicker: BOOK_TICKERS,
    Ticker: TICKERS,
}


def table_for(event: Event) -> Table | None:
    """Where ``event`` is stored; None for what is live only: in-progress klines (the
    final one is stored) and mini tickers (the full ticker is)."""
    if isinstance(event, Kline) and not event.closed:
        return None
    return _BY_EVENT.get(type(event))
