"""The REST routes, each one GraphQL operation: its path, where each variable comes from, and
the document the schema executes. Pure data; graph/rest.py serves them and graph/openapi.py
describes them, both from this one list.

A route's answer is the data of its operation's one top-level field, exactly as GraphQL
returns it, so REST and GraphQL cannot disagree.

The seed's alert routes map onto the alerts schema: `/alerts` is alert rules (GET
`alertRules`, POST `createAlertRule`); `/alerts/subscriptions` is notification channels (the
seed's "subscription" was a place a user subscribed to be told, a Telegram chat or an address:
GET `notificationChannels`, POST `createNotificationChannel`); `/alerts/notifications` is
firings with each channel's delivery (`notifications`, a page at a time).
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
ALERT_RULE = (
    "id symbol venue condition interval mode cooldownSeconds rearm expiresAt channelIds state "
    "firedCount lastFiredAt createdAt updatedAt"
)
CHANNEL = "id kind name target hasSecret createdAt"
# What the gateway's cost limit leaves room for under two lists (edges, deliveries); the
# attempts of each delivery are GraphQL's `notifications { … lastAttempt attemptOutcomes }`.
DELIVERY = "id channelId channelKind channelName status reason attempts deliveredAt"
NOTIFICATION = (
    "id ruleId symbol condition time occurredAt price tradeId value candleOpenTime recordedAt "
    f"deliveries {{ {DELIVERY} }}"
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
    Operation(
        "GET",
        "/alerts",
        "listAlertRules",
        "alertRules",
        f"query AlertRules($symbol: String) {{ alertRules(symbol: $symbol) {{ {ALERT_RULE} }} }}",
        "Every alert rule, or those of one symbol",
        (Param("symbol", "query", "Only this symbol's rules.", _SYMBOL_SCHEMA),),
        tag="alerts",
    ),
    Operation(
        "POST",
        "/alerts",
        "createAlertRule",
        "createAlertRule",
        "mutation CreateAlertRule($input: AlertRuleInput!) "
        f"{{ createAlertRule(input: $input) {{ {ALERT_RULE} }} }}",
        "Add an alert rule (its condition checked first)",
        body_variable="input",
        success_status=201,
        tag="alerts",
    ),
    Operation(
        "GET",
        "/alerts/subscriptions",
        "listNotificationChannels",
        "notificationChannels",
        f"query NotificationChannels {{ notificationChannels {{ {CHANNEL} }} }}",
        "Every notification channel (where firings are sent)",
        tag="alerts",
    ),
    Operation(
        "POST",
        "/alerts/subscriptions",
        "createNotificationChannel",
        "createNotificationChannel",
        "mutation CreateNotificationChannel($input: NotificationChannelInput!) "
        f"{{ createNotificationChannel(input: $input) {{ {CHANNEL} }} }}",
        "Add a notification channel: a Telegram chat, a Discord or other webhook, an address",
        body_variable="input",
        success_status=201,
        tag="alerts",
    ),
    Operation(
        "GET",
        "/alerts/notifications",
        "listNotifications",
        "notifications",
        "query Notifications($ruleId: ID, $first: Int, $after: String) { notifications("
        "ruleId: $ruleId, first: $first, after: $after) { "
        f"edges {{ cursor node {{ {NOTIFICATION} }} }} pageInfo {{ hasNextPage endCursor }} }} }}",
        "Firings, newest first, each with its deliveries, a page at a time",
        (
            Param("ruleId", "query", "Only this rule's firings."),
            Param(
                "first",
                "query",
                "Page size: 50 unless given, at most 500.",
                {"minimum": 1, "maximum": 500},
            ),
            Param("after", "query", "A cursor (`pageInfo.endCursor`): the page after it."),
        ),
        tag="alerts",
    ),
)
