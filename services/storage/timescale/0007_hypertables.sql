-- TimescaleDB only: applied when the timescaledb extension is present (see storage_mode.py).
--
-- A hypertable's unique indexes must include its time column, so trades and aggTrades are
-- keyed by their exchange id *and* its time. That stays idempotent: an exchange id always
-- carries the same time (Binance never re-times a trade), so a replayed trade conflicts on
-- the longer key exactly as it did on the shorter one. Klines already are keyed by their
-- open time. tables.py says which key is in force (Table.conflict_key): keep them in step.
ALTER TABLE trades DROP CONSTRAINT trades_pkey;
ALTER TABLE trades ADD PRIMARY KEY (venue, symbol, trade_id, trade_time);
ALTER TABLE agg_trades DROP CONSTRAINT agg_trades_pkey;
ALTER TABLE agg_trades ADD PRIMARY KEY (venue, symbol, agg_id, trade_time);

-- Chunks of one day: a day of BTCUSDT trades is a few million rows, and retention drops
-- whole chunks, so a day is also the granularity of expiry. The BRIN indexes of plain
-- PostgreSQL go: create_hypertable indexes the time column of every chunk itself.
DROP INDEX trades_trade_time_brin;
DROP INDEX agg_trades_trade_time_brin;
DROP INDEX klines_open_time_brin;
SELECT create_hypertable('trades', by_range('trade_time', INTERVAL '1 day'), migrate_data => true);
SELECT create_hypertable('agg_trades', by_range('trade_time', INTERVAL '1 day'), migrate_data => true);
SELECT create_hypertable('klines', by_range('open_time', INTERVAL '7 days'), migrate_data => true);

-- Compressed chunks hold one series per segment, in time order: what every read asks for
-- (one symbol's trades or candles over a time range).
ALTER TABLE trades SET (
    timescaledb.compress,
    timescaledb.compress_segmentby = 'venue, symbol',
    timescaledb.compress_orderby = 'trade_time, trade_id'
);
ALTER TABLE agg_trades SET (
    timescaledb.compress,
    timescaledb.compress_segmentby = 'venue, symbol',
    timescaledb.compress_orderby = 'trade_time, agg_id'
);
ALTER TABLE klines SET (
    timescaledb.compress,
    timescaledb.compress_segmentby = 'venue, symbol, interval',
    timescaledb.compress_orderby = 'open_time'
);
SELECT add_compression_policy('trades', INTERVAL '2 days');
SELECT add_compression_policy('agg_trades', INTERVAL '2 days');
SELECT add_compression_policy('klines', INTERVAL '14 days');

-- Hourly and daily candles of the stored 1m klines, kept by TimescaleDB as they arrive
-- (Binance's semantics: open of the first, highest high, lowest low, close of the last,
-- sums). A refresh covers the last 3 days only, so candles whose 1m klines retention has
-- dropped stay as they were (timescale_retention.py refuses to drop klines sooner).
CREATE MATERIALIZED VIEW klines_1h WITH (timescaledb.continuous) AS
SELECT venue, symbol, time_bucket(INTERVAL '1 hour', open_time) AS open_time,
       first(open, open_time) AS open, max(high) AS high, min(low) AS low,
       last(close, open_time) AS close, sum(volume) AS volume,
       sum(quote_volume) AS quote_volume, sum(trades) AS trades,
       sum(taker_buy_volume) AS taker_buy_volume,
       sum(taker_buy_quote_volume) AS taker_buy_quote_volume, count(*) AS klines
FROM klines WHERE interval = '1m'
GROUP BY venue, symbol, time_bucket(INTERVAL '1 hour', open_time)
WITH NO DATA;

CREATE MATERIALIZED VIEW klines_1d WITH (timescaledb.continuous) AS
SELECT venue, symbol, time_bucket(INTERVAL '1 day', open_time) AS open_time,
       first(open, open_time) AS open, max(high) AS high, min(low) AS low,
       last(close, open_time) AS close, sum(volume) AS volume,
       sum(quote_volume) AS quote_volume, sum(trades) AS trades,
       sum(taker_buy_volume) AS taker_buy_volume,
       sum(taker_buy_quote_volume) AS taker_buy_quote_volume, count(*) AS klines
FROM klines WHERE interval = '1m'
GROUP BY venue, symbol, time_bucket(INTERVAL '1 day', open_time)
WITH NO DATA;

SELECT add_continuous_aggregate_policy('klines_1h', start_offset => INTERVAL '3 days',
    end_offset => INTERVAL '1 hour', schedule_interval => INTERVAL '15 minutes');
SELECT add_continuous_aggregate_policy('klines_1d', start_offset => INTERVAL '3 days',
    end_offset => INTERVAL '1 day', schedule_interval => INTERVAL '1 hour');
