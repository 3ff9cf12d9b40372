-- Alerts (services/alerts/): channels, rules with the evaluator's persisted state, firings
-- and the notification outbox. A firing and its notifications are written in one
-- transaction, before the bus message that caused them is acked; the delivery worker sends
-- from alert_notifications and records every attempt in alert_delivery_attempts.
CREATE TABLE alert_channels (
    id          uuid PRIMARY KEY,
    owner       text NOT NULL DEFAULT 'local',
    kind        text NOT NULL CHECK (kind IN ('TELEGRAM', 'DISCORD', 'EMAIL', 'WEBHOOK')),
    name        text NOT NULL,
    target      text NOT NULL,
    secret      text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    deleted_at  timestamptz
);
CREATE INDEX alert_channels_owner ON alert_channels (owner) WHERE deleted_at IS NULL;

CREATE TABLE alert_rules (
    id              uuid PRIMARY KEY,
    owner           text NOT NULL DEFAULT 'local',
    venue           text NOT NULL DEFAULT 'binance',
    symbol          text NOT NULL,
    condition       text NOT NULL,
    interval        text,  -- NULL for trade conditions
    mode            text NOT NULL CHECK (mode IN ('ONCE', 'RECURRING')),
    cooldown_ms     bigint NOT NULL DEFAULT 0 CHECK (cooldown_ms >= 0),
    rearm           double precision,
    expires_at      timestamptz,
    channel_ids     uuid[] NOT NULL DEFAULT '{}',
    paused          boolean NOT NULL DEFAULT false,
    -- The lifecycle (services/alerts/firing.py): ARMED, DISARMED, FINISHED, EXPIRED.
    state           text NOT NULL DEFAULT 'ARMED'
                    CHECK (state IN ('ARMED', 'DISARMED', 'FINISHED', 'EXPIRED')),
    -- Bumped by every change; an evaluator reloads a rule whose generation moved on.
    generation      bigint NOT NULL DEFAULT 1,
    -- The evaluator's state as of its last committed firing (lifecycle, last event seen).
    evaluator_state jsonb,
    fired_count     bigint NOT NULL DEFAULT 0,
    last_fired_ms   bigint,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    deleted_at      timestamptz
);
CREATE INDEX alert_rules_live ON alert_rules (symbol) WHERE deleted_at IS NULL;
CREATE INDEX alert_rules_owner ON alert_rules (owner, created_at DESC) WHERE deleted_at IS NULL;

CREATE TABLE alert_firings (
    id              bigserial PRIMARY KEY,
    rule_id         uuid NOT NULL REFERENCES alert_rules (id),
    owner           text NOT NULL DEFAULT 'local',
    venue           text NOT NULL DEFAULT 'binance',
    symbol          text NOT NULL,
    condition       text NOT NULL,
    interval        text,
    -- The event's identity: 'trade:<venue>:<trade id>' or 'candle:<interval>:<open ms>'.
    -- Unique per rule: a redelivered event cannot fire a rule twice.
    event_key       text NOT NULL,
    time_ms         bigint NOT NULL,
    price           text NOT NULL,
    value           double precision NOT NULL,
    trade_id        bigint,
    candle_open_ms  bigint,
    recorded_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    UNIQUE (rule_id, event_key)
);
CREATE INDEX alert_firings_rule ON alert_firings (rule_id, id DESC);
CREATE INDEX alert_firings_owner ON alert_firings (owner, id DESC);

-- The outbox: one row per firing and channel.
CREATE TABLE alert_notifications (
    id                 bigserial PRIMARY KEY,
    firing_id          bigint NOT NULL REFERENCES alert_firings (id) ON DELETE CASCADE,
    channel_id         uuid NOT NULL REFERENCES alert_channels (id),
    -- The same on every retry of this notification (webhook body, email Message-ID …).
    idempotency_key    text NOT NULL UNIQUE,
    status             text NOT NULL DEFAULT 'PENDING'
                       CHECK (status IN ('PENDING', 'DELIVERED', 'FAILED')),
    attempts           integer NOT NULL DEFAULT 0,
    next_attempt_at    timestamptz NOT NULL DEFAULT now(),
    reason             text NOT NULL DEFAULT '',
    -- Set before a send goes out, cleared with its answer: found set by a worker starting
    -- up, the send's outcome is unknown (it is repeated once, flagged possible_duplicate).
    sending_since      timestamptz,
    possible_duplicate boolean NOT NULL DEFAULT false,
    created_at         timestamptz NOT NULL DEFAULT clock_timestamp(),
    delivered_at       timestamptz
);
-- The worker's work: pending notifications, per channel in order.
CREATE INDEX alert_notifications_pending ON alert_notifications (channel_id, id)
    WHERE status = 'PENDING';
CREATE INDEX alert_notifications_firing ON alert_notifications (firing_id);

CREATE TABLE alert_delivery_attempts (
    notification_id bigint NOT NULL REFERENCES alert_notifications (id) ON DELETE CASCADE,
    number          integer NOT NULL,
    started_at      timestamptz NOT NULL,
    finished_at     timestamptz,
    outcome         text NOT NULL CHECK (outcome IN ('DELIVERED', 'RETRY', 'FAILED', 'UNKNOWN')),
    detail          text NOT NULL DEFAULT '',
    PRIMARY KEY (notification_id, number)
);
