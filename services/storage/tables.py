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


@dataclass(frozen=True)
class Table:
    """One stored kind: :meth:`statements` run after the COPY into ``staging``; the row
    count of the first is what the batch added. History (``key`` given) is inserted into
    ``like`` where new by that key; ``latest`` statements follow (latest-per-symbol rows).

    Rows are staged as the events carry them, and PostgreSQL converts: decimal strings go
    in as ``text`` and become ``numeric`` in the INSERT, epoch milliseconds
    (``epoch_ms`` columns) and microseconds (``received_at``) go in as ``bigint`` and become
    ``timestamptz``. Building ``Decimal``s and ``datetime``s in Python and encoding them
    for COPY costs about 9 µs a trade; the text and integers cost 0.5 µs, and PostgreSQL's
    own parsing in C less than the difference (bench/README.md). A value PostgreSQL cannot
    convert fails the batch as a data error, as a bad typed value did.
    """

    name: str
    like: str
    columns: tuple[str, ...]
    row: Callable[[Any], tuple[object, ...]]
    # The exchange's identity of a history row; None: the kind keeps latest rows only.
    key: tuple[str, ...] | None
    # The time column of a table that is a hypertable in ``timescaledb`` mode.
    time_column: str | None = None
    latest: tuple[str, ...] = ()
    decimals: frozenset[str] = frozenset()
    epoch_ms: frozenset[str] = frozenset()

    @property
    def staging(self) -> str:
        return f"{self.name}_staging"

    @property
    def batch(self) -> str:
        """The staged rows with the target's column types, for the statements to read."""
        return _batch(self.staging, self.columns, self.decimals, self.epoch_ms)

    def staging_ddl(self) -> str:
        """The per-connection temporary table COPY fills (the target's columns, with the
        staged types above), emptied at every commit."""
        retyped = [f"ALTER COLUMN {c} TYPE text" for c in sorted(self.decimals)]
        retyped += [f"ALTER COLUMN {c} TYPE bigint USING NULL" for c in sorted(self.epoch_ms)]
        if "received_at" in self.columns:
            retyped.append("ALTER COLUMN received_at TYPE bigint USING NULL")
        ddl = (
            f"CREATE TEMP TABLE IF NOT EXISTS {self.staging} "
            f"(LIKE {self.like} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS; "
        )
        if retyped:
            ddl += f"ALTER TABLE {self.staging} {', '.join(retyped)};"
        return ddl

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
        return (_insert_new(self.like, self.columns, key, self.batch), *self.latest)


def _converted(columns: tuple[str, ...], decimals: frozenset[str], epoch_ms: frozenset[str]) -> str:
    """The staged columns as the target's types."""
    exprs = []
    for column in columns:
        if column in decimals:
            exprs.append(f"{column}::numeric AS {column}")
        elif column in epoch_ms:
            exprs.append(f"timestamptz 'epoch' + {column} * interval '1 millisecond' AS {column}")
        elif column == "received_at":
            exprs.append(f"timestamptz 'epoch' + {column} * interval '1 microsecond' AS {column}")
        else:
            exprs.append(column)
    return ", ".join(exprs)


def _batch(
    staging: str, columns: tuple[str, ...], decimals: frozenset[str], epoch_ms: frozenset[str]
) -> str:
    return f"(SELECT {_converted(columns, decimals, epoch_ms)} FROM {staging}) AS batch"


def _insert_new(table: str, columns: tuple[str, ...], key: str, batch: str) -> str:
    listed = ", ".join(columns)
    return (
        f"INSERT INTO {table} ({listed}) SELECT {listed} FROM {batch} "
        f"ON CONFLICT ({key}) DO NOTHING"
    )


def _upsert_latest(table: str, columns: tuple[str, ...], order: str, batch: str) -> str:
    """The newest row per (venue, symbol) of the batch, replacing an older stored one only:
    a redelivered or late batch never moves a symbol backwards."""
    listed = ", ".join(columns)
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c not in ("venue", "symbol"))
    return (
        f"INSERT INTO {table} ({listed}) SELECT DISTINCT ON (venue, symbol) {listed} "
        f"FROM {batch} ORDER BY venue, symbol, {order} DESC "
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
_TRADE_DECIMALS = frozenset({"price", "quantity"})
_TRADE_TIMES = frozenset({"trade_time"})
_TRADE_BATCH = _batch("trades_staging", _TRADE_COLUMNS, _TRADE_DECIMALS, _TRADE_TIMES)


def _trade_row(trade: Trade) -> tuple[object, ...]:
    return (
        trade.symbol,
        trade.trade_id,
        trade.price,
        trade.quantity,
        trade.trade_time_ms,
        trade.buyer_is_maker,
        trade.venue,
        trade.received_time_us or None,
    )


TRADES = Table(
    "trades",
    "trades",
    _TRADE_COLUMNS,
    _trade_row,
    key=("venue", "symbol", "trade_id"),
    time_column="trade_time",
    latest=(
        f"""INSERT INTO latest_prices (venue, symbol, trade_id, price, quantity, trade_time)
           SELECT DISTINCT ON (venue, symbol)
               venue, symbol, trade_id, price, quantity, trade_time
           FROM {_TRADE_BATCH} ORDER BY venue, symbol, trade_id DESC
           ON CONFLICT (venue, symbol) DO UPDATE SET
               trade_id = EXCLUDED.trade_id, price = EXCLUDED.price,
               quantity = EXCLUDED.quantity, trade_time = EXCLUDED.trade_time,
               updated_at = now()
           WHERE latest_prices.trade_id < EXCLUDED.trade_id""",
    ),
    decimals=_TRADE_DECIMALS,
    epoch_ms=_TRADE_TIMES,
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
_AGG_TRADE_DECIMALS = frozenset({"price", "quantity"})
_AGG_TRADE_TIMES = frozenset({"trade_time"})


def _agg_trade_row(event: AggTrade) -> tuple[object, ...]:
    return (
        event.venue,
        event.symbol,
        event.agg_id,
        event.price,
        event.quantity,
        event.first_trade_id,
        event.last_trade_id,
        event.trade_time_ms,
        event.buyer_is_maker,
        event.received_time_us or None,
    )


AGG_TRADES = Table(
    "agg_trades",
    "agg_trades",
    _AGG_TRADE_COLUMNS,
    _agg_trade_row,
    key=("venue", "symbol", "agg_id"),
    time_column="trade_time",
    decimals=_AGG_TRADE_DECIMALS,
    epoch_ms=_AGG_TRADE_TIMES,
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
_KLINE_DECIMALS = frozenset(
    {"open", "high", "low", "close", "volume", "quote_volume", "taker_buy_volume"}
    | {"taker_buy_quote_volume"}
)
_KLINE_TIMES = frozenset({"open_time", "close_time"})


def _kline_row(k: Kline) -> tuple[object, ...]:
    return (
        k.venue,
        k.symbol,
        k.interval,
        k.open_time_ms,
        k.close_time_ms,
        k.open,
        k.high,
        k.low,
        k.close,
        k.volume,
        k.quote_volume,
        k.trades,
        k.first_trade_id,
        k.last_trade_id,
        k.taker_buy_volume,
        k.taker_buy_quote_volume,
        k.received_time_us or None,
    )


KLINES = Table(
    "klines",
    "klines",
    _KLINE_COLUMNS,
    _kline_row,
    key=("venue", "symbol", "interval", "open_time"),
    time_column="open_time",
    decimals=_KLINE_DECIMALS,
    epoch_ms=_KLINE_TIMES,
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
_BOOK_DECIMALS = frozenset({"bid_price", "bid_quantity", "ask_price", "ask_quantity"})


def _book_row(b: BookTicker) -> tuple[object, ...]:
    return (
        b.venue,
        b.symbol,
        b.update_id,
        b.bid_price,
        b.bid_quantity,
        b.ask_price,
        b.ask_quantity,
        b.received_time_us or None,
    )


BOOK_TICKERS = Table(
    "book_tickers",
    "book_tickers",
    _BOOK_COLUMNS,
    _book_row,
    key=None,
    latest=(
        _upsert_latest(
            "book_tickers",
            _BOOK_COLUMNS,
            "update_id",
            _batch("book_tickers_staging", _BOOK_COLUMNS, _BOOK_DECIMALS, frozenset()),
        ),
    ),
    decimals=_BOOK_DECIMALS,
)

_TICKER_DECIMAL_COLUMNS = (
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
)
_TICKER_COLUMNS = (
    "venue",
    "symbol",
    "event_time",
    *_TICKER_DECIMAL_COLUMNS,
    "open_time",
    "close_time",
    "first_trade_id",
    "last_trade_id",
    "trades",
    "received_at",
)
_TICKER_DECIMALS = frozenset(_TICKER_DECIMAL_COLUMNS)
_TICKER_TIMES = frozenset({"event_time", "open_time", "close_time"})
_TICKER_BATCH = _batch("tickers_staging", _TICKER_COLUMNS, _TICKER_DECIMALS, _TICKER_TIMES)


def _ticker_row(t: Ticker) -> tuple[object, ...]:
    return (
        t.venue,
        t.symbol,
        t.event_time_ms,
        *(getattr(t, column) for column in _TICKER_DECIMAL_COLUMNS),
        t.open_time_ms,
        t.close_time_ms,
        t.first_trade_id,
        t.last_trade_id,
        t.trades,
        t.received_time_us or None,
    )


TICKERS = Table(
    "tickers",
    "ticker_history",
    _TICKER_COLUMNS,
    _ticker_row,
    key=("venue", "symbol", "event_time"),
    latest=(_upsert_latest("tickers", _TICKER_COLUMNS, "event_time", _TICKER_BATCH),),
    decimals=_TICKER_DECIMALS,
    epoch_ms=_TICKER_TIMES,
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
