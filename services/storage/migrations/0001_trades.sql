-- Trades keyed by the exchange's identity: a replay or a redelivery inserts nothing new.
CREATE TABLE trades (
    symbol          text        NOT NULL,
    trade_id        bigint      NOT NULL,
    price           numeric     NOT NULL CHECK (price > 0),
    quantity        numeric     NOT NULL CHECK (quantity > 0),
    trade_time      timestamptz NOT NULL,
    buyer_is_maker  boolean     NOT NULL,
    venue           text        NOT NULL,
    received_at     timestamptz,
    PRIMARY KEY (symbol, trade_id)
);

-- Time-range scans over an append-mostly table: BRIN is tiny and fits insertion order.
CREATE INDEX trades_trade_time_brin ON trades USING brin (trade_time);

-- One row per symbol: the trade with the highest id stored, maintained with every batch.
CREATE TABLE latest_prices (
    symbol      text        PRIMARY KEY,
    trade_id    bigint      NOT NULL,
    price       numeric     NOT NULL,
    quantity    numeric     NOT NULL,
    trade_time  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
