-- Backtest and optimisation jobs (services/backtest/jobs.py): the request, where it is, and
-- its one result. Workers take them from the JetStream work queue JOBS; this table is the
-- record every transition is written to, each a conditional UPDATE (so a result is kept once).
CREATE TABLE jobs (
    id               uuid PRIMARY KEY,
    kind             text NOT NULL CHECK (kind IN ('backtest', 'optimize')),
    state            text NOT NULL DEFAULT 'QUEUED'
                     CHECK (state IN ('QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED')),
    request          jsonb NOT NULL,
    progress         double precision NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 1),
    progress_message text NOT NULL DEFAULT '',
    result           jsonb,
    error            text NOT NULL DEFAULT '',
    attempts         integer NOT NULL DEFAULT 0,
    cancel_requested boolean NOT NULL DEFAULT false,
    created_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    finished_at      timestamptz
);

-- jobs(first, after): newest first, keyset pagination on (created_at, id).
CREATE INDEX jobs_created ON jobs (created_at DESC, id DESC);
