-- Every kind beside trades, each keyed by the exchange's identity so a replay or a
-- redelivery inserts nothing new. Prices and volumes are numeric (exact decimals).

-- Aggregate trades: agg ids are consecutive per symbol, like trade ids.
CREATE TABLE agg_trades (
    venue           text        NOT NULL,
    symbol          text        NOT NULL,
    agg_id          bigint      NOT NULL,
    price           numeric     NOT NULL CHECK (price > 0),
    quantity        numeric     NOT NULL CHECK (quantity > 0),
    first_trade_id  bigint      NOT NULL,
    last_trade_id   bigint      NOT NULL CHECK (last_trade_id >= first_trade_id),
    trade_time      timestamptz NOT NULL,
    buyer_is_maker  boolean     NOT NULL,
    received_at     timestamptz,
    PRIMARY KEY (venue, symbol, agg_id)
);
CREATE INDEX agg_trades_trade_time_brin ON agg_trades USING brin (trade_time);

-- Final klines only (Binance's x = true): in-progress updates reach live subscribers and
-- are never stored, so a row is the candle as the exchange closed it. "Klines are uniquely
-- identified by their open time" (Binance REST docs), per interval.
CREATE TABLE klines (
    venue                   text        NOT NULL,
    symbol                  text        NOT NULL,
    interval                text        NOT NULL,
    open_time               timestamptz NOT NULL,
    close_time              timestamptz NOT NULL,
    open                    numeric     NOT NULL CHECK (open > 0),
    high                    numeric     NOT NULL,
    low                     numeric     NOT NULL CHECK (low > 0),
    close                   numeric     NOT NULL CHECK (close > 0),
    volume                  numeric     NOT NULL CHECK (volume >= 0),
    quote_volume            numeric     NOT NULL CHECK (quote_volume >= 0),
    trades                  bigint      NOT NULL CHECK (trades >= 0),
    first_trade_id          bigint      NOT NULL,
    last_trade_id           bigint      NOT NULL,
    taker_buy_volume        numeric     NOT NULL CHECK (taker_buy_volume >= 0),
    taker_buy_quote_volume  numeric     NOT NULL CHECK (taker_buy_quote_volume >= 0),
    received_at             timestamptz,
    CHECK (high >= low),
    PRIMARY KEY (venue, symbol, interval, open_time)
);
CREATE INDEX klines_open_time_brin ON klines USING brin (open_time);

-- The latest best bid/ask per symbol, and no history: Binance sends one on every change of
-- the top of the book (28,040 in six minutes of one BTCUSDT capture), more rows than every
-- trade, and what a user wants from the past is trades and candles, which are stored.
CREATE TABLE book_tickers (
    venue         text        NOT NULL,
    symbol        text        NOT NULL,
    update_id     bigint      NOT NULL,
    bid_price     numeric     NOT NULL CHECK (bid_price >= 0),
    bid_quantity  numeric     NOT NULL CHECK (bid_quantity >= 0),
    ask_price     numeric     NOT NULL CHECK (ask_price >= 0),
    ask_quantity  numeric     NOT NULL CHECK (ask_quantity >= 0),
    received_at   timestamptz,
    PRIMARY KEY (venue, symbol)
);

-- 24-hour statistics: one a second per symbol, cheap enough to keep as history (keyed by
-- the exchange's event time), plus the latest per symbol for quick reads.
CREATE TABLE ticker_history (
    venue                   text        NOT NULL,
    symbol                  text        NOT NULL,
    event_time              timestamptz NOT NULL,
    price_change            numeric     NOT NULL,
    price_change_percent    numeric     NOT NULL,
    weighted_average_price  numeric     NOT NULL,
    first_price             numeric     NOT NULL,
    last_price              numeric     NOT NULL,
    last_quantity           numeric     NOT NULL,
    best_bid_price          numeric     NOT NULL,
    best_bid_quantity       numeric     NOT NULL,
    best_ask_price          numeric     NOT NULL,
    best_ask_quantity       numeric     NOT NULL,
    open                    numeric     NOT NULL,
    high                    numeric     NOT NULL,
    low                     numeric     NOT NULL,
    volume                  numeric     NOT NULL CHECK (volume >= 0),
    quote_volume            numeric     NOT NULL CHECK (quote_volume >= 0),
    open_time               timestamptz NOT NULL,
    close_time              timestamptz NOT NULL,
    first_trade_id          bigint      NOT NULL,
    last_trade_id           bigint      NOT NULL,
    trades                  bigint      NOT NULL CHECK (trades >= 0),
    received_at             timestamptz,
    CHECK (high >= low),
    PRIMARY KEY (venue, symbol, event_time)
);
CREATE INDEX ticker_history_event_time_brin ON ticker_history USING brin (event_time);

CREATE TABLE tickers (LIKE ticker_history INCLUDING CONSTRAINTS, PRIMARY KEY (venue, symbol));
