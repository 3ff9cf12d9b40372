-- Holes Binance itself has no data for (exchange outages), as a backfill found out: it
-- asked for the ids and the exchange answered around them (see GapEvent's
-- GAP_STATE_EXCHANGE_HOLE). Coverage reports holes inside these as EXCHANGE, not MISSING.
-- Ids are trade ids, agg ids or kline open times (epoch ms), both ends inclusive.
CREATE TABLE exchange_holes (
    venue        text        NOT NULL,
    symbol       text        NOT NULL,
    kind         text        NOT NULL,
    first_id     bigint      NOT NULL,
    last_id      bigint      NOT NULL CHECK (last_id >= first_id),
    reason       text        NOT NULL DEFAULT '',
    recorded_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (venue, symbol, kind, first_id, last_id)
);
