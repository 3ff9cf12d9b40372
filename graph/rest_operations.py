"""The REST routes, each one GraphQL operation: its path, where each variable comes from, and
the document the schema executes. Pure data; graph/rest.py serves them and graph/openapi.py
describes them, both from this one list.

A route's answer is the data of its operation's one top-level field, exactly as GraphQL
returns it, so REST and GraphQL cannot disagree. Alerts (`/alerts`, `/alerts/subscriptions`,
`/alerts/notifications`) plug in here as more `Operation`s once graph/alerts.py has landed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from services.common import names

PRICE = "venue symbol price quantity tradeId tradeTimeMs tradeTime"
TRADE = "venue symbol tradeId price quantity tradeTimeMs tradeTime buyerIsMaker"
METRICS = (
    "totalReturn cagr volatility sharpe sortino calmar maxDrawdown maxDrawdownDuration winRate "
    "profitFactor expectancy averageTrade trades entries exposure buyAndHoldReturn finalEquity"
)
BACKTEST_RESULT = (
    "id symbol venue interval strategy params from to fill createdAt "
    f"metrics {{ {METRICS} }} dataQuality {{ bars holes source }} equity {{ time value }}"
)
BACKTEST_TRADES = (
    "tradeList(first: 1000) { totalCount pageInfo { hasNextPage endCursor } edges { node { "
    "direction entryTime exitTime entryPrice exitPrice size pnl return exitReason } } }"
)
OPTIMIZE_ROW = f"params score metrics {{ {METRICS} }}"
JOB = (
    "id kind state progress message error attempts cancelRequested createdAt startedAt "
    "finishedAt request"
)
JOB_RESULT = (
    "result { __typename "
    f"... on BacktestResult {{ {BACKTEST_RESULT} }} "
    f"... on OptimizeResult {{ objective skipped best {{ {OPTIMIZE_ROW} }} "
    f"rows {{ {OPTIMIZE_ROW} }} walkForward {{ efficiency folds {{ trainFrom trainTo testFrom "
    f"testTo inSample {{ {OPTIMIZE_ROW} }} outOfSample {{ {OPTIMIZE_ROW} }} }} }} }} }}"
)


@dataclass(frozen=True)
class Param:
    """One path or query parameter, passed as the GraphQL variable of the same name; its type
    is the variable's (a list variable is a repeated query parameter)."""

    name: str
    where: Literal["path", "query"]
    description: str
    # What the document states beyond the variable's GraphQL type (a pattern, an enum).
    schema: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Operation:
    method: Literal["GET", "POST"]
    path: str  # Starlette's form: /price/{symbol}
    operation_id: str
    field: str  # the operation's one top-level field: its data is the answer
    document: str
    summary: str
    params: tuple[Param, ...] = ()
    # POST: the JSON body is this variable (an input object).
    body_variable: str | None = None
    success_status: int = 200
    tag: str = "market data"


_SYMBOL_SCHEMA = {"pattern": "^[A-Za-z0-9]{2,30}$"}
_VENUE_SCHEMA = {"enum": list(names.VENUES)}
SYMBOL = Param(
    "symbol", "path", 'The exchange symbol, e.g. "BTCUSDT" (case is ignored).', _SYMBOL_SCHEMA
)
VENUE = Param("venue", "query", '"binance" (spot, the default) or "binance_usdm".', _VENUE_SCHEMA)
FROM = Param("from", "query", "ISO-8601 date-time, inclusive (UTC unless an offset is given).")
TO = Param("to", "query", "ISO-8601 date-time, exclusive.")
INTERVAL = Param("interval", "query", 'A Binance interval: "1m", "1h", "1d", "1M" …')

OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "GET",
        "/prices",
        "listPrices",
        "prices",
        "query Prices($symbols: [String!], $venue: String) "
        f"{{ prices(symbols: $symbols, venue: $venue) {{ {PRICE} }} }}",
        "The latest stored price of every symbol (or of those given)",
        (
            Param(
                "symbols",
                "query",
                "Symbols to answer, repeated (`?symbols=A&symbols=B`).",
                {"items": _SYMBOL_SCHEMA},
            ),
            Param("venue", "query", "One venue; every venue when not given.", _VENUE_SCHEMA),
        ),
    ),
    Operation(
        "GET",
        "/price/{symbol}",
        "getPrice",
        "price",
        'query Price($symbol: String!, $venue: String! = "binance") '
        f"{{ price(symbol: $symbol, venue: $venue) {{ {PRICE} }} }}",
        "The latest stored price of one symbol (404 when none is stored)",
        (SYMBOL, VENUE),
    ),
    Operation(
        "GET",
        "/history/{symbol}",
        "getHistory",
        "history",
        "query History($symbol: String!, $from: DateTime, $to: DateTime, $first: Int, "
        '$after: String, $venue: String! = "binance") { history(symbol: $symbol, from: $from, '
        "to: $to, first: $first, after: $after, venue: $venue) { "
        f"edges {{ cursor node {{ {TRADE} }} }} pageInfo {{ hasNextPage endCursor }} }} }}",
        "Stored trades in trade id order, a page at a time",
        (
            SYMBOL,
            FROM,
            TO,
            Param(
                "first",
                "query",
                "Page size: 100 unless given, at most 1,000.",
                {"minimum": 0, "maximum": 1000},
            ),
            Param("after", "query", "A cursor (`pageInfo.endCursor`): the page after it."),
            VENUE,
        ),
    ),
    Operation(
        "GET",
        "/chart/ohlc/{symbol}",
        "getOhlc",
        "ohlc",
        "query Ohlc($symbol: String!, $interval: String!, $from: DateTime!, $to: DateTime!, "
        '$venue: String! = "binance") { ohlc(symbol: $symbol, interval: $interval, '
        "from: $from, to: $to, venue: $venue) { symbol interval venue source openTime open "
        "high low close volume quoteVolume trades } }",
        "Candles of one symbol at any interval, columnar",
        (SYMBOL, INTERVAL, FROM, TO, VENUE),
    ),
    Operation(
        "GET",
        "/indicators/{symbol}",
        "getIndicators",
        "indicators",
        "query Indicators($symbol: String!, $interval: String!, $from: DateTime!, "
        '$to: DateTime!, $specs: [String!]!, $venue: String! = "binance") { '
        "indicators(symbol: $symbol, interval: $interval, from: $from, to: $to, specs: $specs, "
        "venue: $venue) { source openTime series { spec name values } } }",
        "Indicators over the candles of one symbol",
        (
            SYMBOL,
            INTERVAL,
            FROM,
            TO,
            Param(
                "specs",
                "query",
                "Indicators, repeated: `?specs=rsi(14)&specs=macd(12,26,9)`.",
            ),
            VENUE,
        ),
    ),
    Operation(
        "GET",
        "/backtest/strategies",
        "listStrategies",
        "strategies",
        "query Strategies { strategies { name description "
        "params { name type default min max description } } }",
        "Every strategy a backtest can run, with its parameter schema",
        tag="backtests",
    ),
    Operation(
        "POST",
        "/backtest/run",
        "runBacktest",
        "runBacktest",
        "mutation RunBacktest($input: BacktestInput!) "
        f"{{ runBacktest(input: $input) {{ {BACKTEST_RESULT} {BACKTEST_TRADES} }} }}",
        "Run a backtest now and store its result",
        body_variable="input",
        tag="backtests",
    ),
    Operation(
        "POST",
        "/backtest/optimize",
        "optimize",
        "optimize",
        f"mutation Optimize($input: OptimizeInput!) {{ optimize(input: $input) {{ {JOB} }} }}",
        "Queue a parameter search; follow it at /backtest/jobs/{jobId}",
        body_variable="input",
        success_status=202,
        tag="backtests",
    ),
    Operation(
        "GET",
        "/backtest/jobs/{jobId}",
        "getJob",
        "job",
        f"query Job($jobId: ID!) {{ job(id: $jobId) {{ {JOB} {JOB_RESULT} }} }}",
        "A backtest or optimisation job, with its result once it has succeeded",
        (Param("jobId", "path", "The job's id."),),
        tag="backtests",
    ),
)
