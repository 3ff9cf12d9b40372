-- Alerts: the last event the evaluator committed per series (trades of a symbol, or its
-- closed klines of one interval), written in the same transaction as the firings of each
-- batch before the batch is acked. A restarted evaluator resumes every rule's "seen up to"
-- and previous price from here (redelivered events are skipped, nothing fires twice), and
-- the scheduler reads it for stale-feed rules (`no_trade(5m)`).
CREATE TABLE alert_feeds (
    venue         text NOT NULL,
    symbol        text NOT NULL,
    kind          text NOT NULL,  -- 'trade' or 'kline_<interval>'
    last_id       bigint NOT NULL,  -- trade id, or the candle's open time (ms)
    last_price    text NOT NULL,  -- the trade's price or the candle's close
    last_time_ms  bigint NOT NULL,  -- trade time, or the candle's open time
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (venue, symbol, kind)
);

-- Evaluators poll for rules changed lately (a missed NOTIFY); expiry looks for due rules.
CREATE INDEX alert_rules_updated ON alert_rules (updated_at);
CREATE INDEX alert_rules_expiring ON alert_rules (expires_at)
    WHERE deleted_at IS NULL AND expires_at IS NOT NULL;
