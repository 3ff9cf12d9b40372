-- Results of backtests run through BacktestService.RunBacktest, so a result's id can be
-- asked for again (GraphQL `backtest(id)`). `request` is what was asked (settings and the
-- strategy's parameters as given); `result` the outcome (resolved parameters, metrics, the
-- equity curve downsampled to at most 10,000 points, trades as columns, data quality).
CREATE TABLE backtest_results (
    id          uuid        PRIMARY KEY,
    request     jsonb       NOT NULL,
    result      jsonb       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX backtest_results_created_at ON backtest_results (created_at DESC);
