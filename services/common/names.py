"""Every name on the bus: streams, subjects, durable consumers and message ids.

Pure functions, so the whole system (and its tests) agree on one spelling. A non-empty
``namespace`` prefixes every subject and stream, which lets several independent stacks
(or test runs) share one NATS server without seeing each other's data.
"""

from __future__ import annotations

import re

VENUE_BINANCE = "binance"
# Binance USDⓈ-M futures: the same symbols as spot (BTCUSDT) but another market, with its
# own trade ids and prices, so it must never share spot's identity.
VENUE_BINANCE_USDM = "binance_usdm"
VENUES = (VENUE_BINANCE, VENUE_BINANCE_USDM)
TRADE = "trade"
GAP = "gap"
AGGTRADE = "aggtrade"
BOOK = "book"
TICKER = "ticker"
MINITICKER = "miniticker"
KLINE_PREFIX = "kline_"
# Binance's kline intervals (spec §4.3), case kept: "1m" is a minute and "1M" a month.
KLINE_INTERVALS = (
    "1s", "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w",
    "1M",
)  # fmt: skip
# Binance stream kinds (what follows ``<symbol>@``) → the bus kind of their events.
_STREAM_KINDS = {
    "trade": TRADE,
    "aggTrade": AGGTRADE,
    "bookTicker": BOOK,
    "ticker": TICKER,
    "miniTicker": MINITICKER,
    **{f"kline_{interval}": f"{KLINE_PREFIX}{interval}" for interval in KLINE_INTERVALS},
}
STREAMS = tuple(_STREAM_KINDS)

_NAMESPACE_RE = re.compile(r"[a-z0-9_]*")
_TOKEN_RE = re.compile(r"[A-Za-z0-9_]+")


def _check_namespace(namespace: str) -> str:
    if not _NAMESPACE_RE.fullmatch(namespace):
        raise ValueError(
            f"namespace {namespace!r} must be lower-case letters, digits or '_' (or empty)"
        )
    return namespace


def _subject(namespace: str, *tokens: str) -> str:
    prefix = (_check_namespace(namespace),) if namespace else ()
    return ".".join((*prefix, *tokens))


def _stream(namespace: str, base: str) -> str:
    return f"{_check_namespace(namespace).upper()}_{base}" if namespace else base


def market_stream(namespace: str = "") -> str:
    """The JetStream stream holding every market event: ``MARKET``."""
    return _stream(namespace, "MARKET")


def market_subjects(namespace: str = "") -> list[str]:
    """Subjects bound to the market stream: ``market.>``."""
    return [_subject(namespace, "market", ">")]


def market_subject(venue: str, kind: str, symbol: str, namespace: str = "") -> str:
    """``market.<venue>.<kind>.<SYMBOL>``, e.g. ``market.binance.trade.BTCUSDT``."""
    for token in (venue, kind, symbol):
        if not _TOKEN_RE.fullmatch(token):
            raise ValueError(f"subject token {token!r} must be letters, digits or '_'")
    return _subject(namespace, "market", venue, kind, symbol.upper())


def trade_subject(symbol: str, venue: str = VENUE_BINANCE, namespace: str = "") -> str:
    """The subject one symbol's trades are published on."""
    return market_subject(venue, TRADE, symbol, namespace)


def kline_kind(interval: str) -> str:
    """The bus kind of one interval's klines: ``kline_1m``; ValueError for no interval."""
    if interval not in KLINE_INTERVALS:
        raise ValueError(
            f"kline interval {interval!r} is not one of {' '.join(KLINE_INTERVALS)} "
            "(case matters: 1m is a minute, 1M a month)"
        )
    return KLINE_PREFIX + interval


def stream_kind(stream: str) -> str:
    """The bus kind of a Binance stream kind: ``aggTrade`` → ``aggtrade``, ``bookTicker`` →
    ``book``, ``kline_1m`` → ``kline_1m``; ValueError naming the supported ones."""
    kind = _STREAM_KINDS.get(stream)
    if kind is None:
        raise ValueError(
            f"unknown stream {stream!r}: use trade, aggTrade, kline_<interval> (intervals "
            f"{' '.join(KLINE_INTERVALS)}), bookTicker, ticker or miniTicker"
        )
    return kind


def subject_kind(subject: str, namespace: str = "") -> str:
    """The kind token of a market subject: ``market.binance.kline_1m.BTCUSDT`` → ``kline_1m``."""
    tokens = subject.split(".")
    offset = 1 if namespace else 0
    if len(tokens) != offset + 4 or tokens[offset] != "market":
        raise ValueError(f"{subject!r} is not a market.<venue>.<kind>.<SYMBOL> subject")
    return tokens[offset + 2]


def kind_filter_subject(
    kind: str, venue: str | None = None, symbol: str | None = None, namespace: str = ""
) -> str:
    """One kind's events of one venue and/or one symbol; ``None`` is a wildcard, e.g.
    ``market.*.kline_1m.BTCUSDT``."""
    if not _TOKEN_RE.fullmatch(kind):
        raise ValueError(f"subject token {kind!r} must be letters, digits or '_'")
    venue_token = "*" if venue is None else check_venue(venue)
    if symbol is None:
        symbol_token = "*"
    else:
        if not _TOKEN_RE.fullmatch(symbol):
            raise ValueError(f"subject token {symbol!r} must be letters, digits or '_'")
        symbol_token = symbol.upper()
    return _subject(namespace, "market", venue_token, kind, symbol_token)


def check_venue(venue: str) -> str:
    """``venue`` if it is one QuantFlow knows, else ``ValueError`` listing the known ones."""
    if venue not in VENUES:
        raise ValueError(f"venue {venue!r} is not one of {', '.join(VENUES)}")
    return venue


def trade_msg_id(venue: str, symbol: str, trade_id: int) -> str:
    """``Nats-Msg-Id`` of a trade: the exchange's own identity, so replays dedupe."""
    return f"{venue}:{symbol.upper()}:{TRADE}:{trade_id}"


def batch_msg_id(venue: str, symbol: str, kind: str, first: int, last: int) -> str:
    """``Nats-Msg-Id`` of a batch of one series' events (``market.v1.EventBatch``):
    ``<venue>:<SYMBOL>:<kind>:<first id>-<last id>``."""
    return f"{venue}:{symbol.upper()}:{kind}:{first}-{last}"


def gap_subject(venue: str, symbol: str, namespace: str = "") -> str:
    """Gap events of one symbol's series: ``market.<venue>.gap.<SYMBOL>``."""
    return market_subject(venue, GAP, symbol, namespace)


def all_gaps_subject(namespace: str = "") -> str:
    """Every venue's gap events: ``market.*.gap.*``."""
    return _subject(namespace, "market", "*", GAP, "*")


def gap_msg_id(venue: str, symbol: str, kind: str, first_id: int, last_id: int, state: str) -> str:
    """``Nats-Msg-Id`` of a gap event: one per gap and state, so a resend dedupes."""
    return f"{venue}:{symbol.upper()}:{GAP}:{kind}:{first_id}-{last_id}:{state}"


def agg_trade_msg_id(venue: str, symbol: str, agg_id: int) -> str:
    """``<venue>:<SYMBOL>:aggtrade:<agg id>``."""
    return f"{venue}:{symbol.upper()}:{AGGTRADE}:{agg_id}"


def kline_msg_id(
    venue: str, symbol: str, interval: str, open_time_ms: int, closed: bool, event_time_ms: int
) -> str:
    """A final kline is ``<venue>:<SYMBOL>:kline_<i>:<open time>:1``, the same however
    often it is replayed. An in-progress one adds its event time
    (``…:<open time>:0:<event time>``): every update of the open candle is news, and a
    bare ``…:0`` would let JetStream keep only the first of them."""
    base = f"{venue}:{symbol.upper()}:{kline_kind(interval)}:{open_time_ms}"
    return f"{base}:1" if closed else f"{base}:0:{event_time_ms}"


def book_msg_id(venue: str, symbol: str, update_id: int) -> str:
    """``<venue>:<SYMBOL>:book:<order book update id>``."""
    return f"{venue}:{symbol.upper()}:{BOOK}:{update_id}"


def ticker_msg_id(venue: str, symbol: str, kind: str, event_time_ms: int) -> str:
    """``<venue>:<SYMBOL>:ticker:<event time>`` (or ``miniticker``): a ticker has no id of
    its own, and the exchange emits one per symbol per second."""
    if kind not in (TICKER, MINITICKER):
        raise ValueError(f"{kind!r} is not {TICKER} or {MINITICKER}")
    return f"{venue}:{symbol.upper()}:{kind}:{event_time_ms}"


def deadletter_stream(namespace: str = "") -> str:
    """The stream keeping malformed input for inspection: ``DEADLETTER``."""
    return _stream(namespace, "DEADLETTER")


def deadletter_subjects(namespace: str = "") -> list[str]:
    return [_subject(namespace, "deadletter", ">")]


def deadletter_subject(source: str, namespace: str = "") -> str:
    """``deadletter.<source>``, e.g. ``deadletter.binance``."""
    if not _TOKEN_RE.fullmatch(source):
        raise ValueError(f"dead-letter source {source!r} must be letters, digits or '_'")
    return _subject(namespace, "deadletter", source)


def deadletter_msg_id(stream: str, stream_sequence: int, stored_us: int, index: int) -> str:
    """The ``Nats-Msg-Id`` of the dead letter of event ``index`` (from 0; -1: the whole
    message) of the message at ``stream_sequence`` of ``stream``, stored at ``stored_us``
    (epoch µs; it tells apart a stream deleted and created again, whose sequences restart)."""
    return f"dl:{stream}:{stream_sequence}:{stored_us}:{index}"


def storage_market_durable(namespace: str = "") -> str:
    """Durable pull consumer through which storage reads every market event."""
    return f"{namespace}_storage_market" if namespace else "storage_market"


def storage_trades_durable(namespace: str = "") -> str:
    """The durable storage read trades through before it stored every kind: deleted at
    start-up, since it would otherwise sit on the server for ever."""
    return f"{namespace}_storage_trades" if namespace else "storage_trades"


def replay_checkpoint_bucket(namespace: str = "") -> str:
    """JetStream key-value bucket where replays record how far they have published."""
    return _stream(namespace, "REPLAY_CHECKPOINTS")


def market_subscriptions_bucket(namespace: str = "") -> str:
    """JetStream key-value bucket where ingest keeps its run-time subscription changes."""
    return _stream(namespace, "MARKET_SUBSCRIPTIONS")


def jobs_stream(namespace: str = "") -> str:
    """The work-queue stream handing backtest and optimisation jobs to workers: ``JOBS``."""
    return _stream(namespace, "JOBS")


def jobs_subjects(namespace: str = "") -> list[str]:
    """Subjects bound to the jobs stream: ``jobs.work.>``."""
    return [_subject(namespace, "jobs", "work", ">")]


def job_work_subject(kind: str, namespace: str = "") -> str:
    """Where a job of ``kind`` (backtest, optimize) is queued: ``jobs.work.<kind>``; the
    message body is the job's id."""
    if not _TOKEN_RE.fullmatch(kind):
        raise ValueError(f"job kind {kind!r} must be letters, digits or '_'")
    return _subject(namespace, "jobs", "work", kind)


def job_progress_subject(job_id: str, namespace: str = "") -> str:
    """Core NATS subject of one job's progress events: ``jobs.progress.<id>``."""
    if not re.fullmatch(r"[0-9a-f-]+", job_id):
        raise ValueError(f"job id {job_id!r} must be a lower-case UUID")
    return _subject(namespace, "jobs", "progress", job_id)


def job_msg_id(job_id: str) -> str:
    """``Nats-Msg-Id`` of a queued job: ``job:<id>``, so a retried submit queues it once."""
    return f"job:{job_id}"


def backtest_jobs_durable(namespace: str = "") -> str:
    """Durable pull consumer every backtest worker shares on the jobs stream."""
    return f"{namespace}_backtest_jobs" if namespace else "backtest_jobs"


def alerts_stream(namespace: str = "") -> str:
    """The stream holding alert firings: ``ALERTS``."""
    return _stream(namespace, "ALERTS")


def alerts_subjects(namespace: str = "") -> list[str]:
    """Subjects bound to the alerts stream: ``alerts.fired.>``."""
    return [_subject(namespace, "alerts", "fired", ">")]


def alert_fired_subject(symbol: str, namespace: str = "") -> str:
    """Where a firing of a rule on ``symbol`` is published (``alerts.v1.AlertFired``):
    ``alerts.fired.<SYMBOL>``."""
    if not _TOKEN_RE.fullmatch(symbol):
        raise ValueError(f"subject token {symbol!r} must be letters, digits or '_'")
    return _subject(namespace, "alerts", "fired", symbol.upper())


def all_alerts_fired_subject(namespace: str = "") -> str:
    """Every symbol's firings: ``alerts.fired.*``."""
    return _subject(namespace, "alerts", "fired", "*")


def alert_fired_msg_id(rule_id: str, event_key: str) -> str:
    """``Nats-Msg-Id`` of a firing: ``alert:<rule id>:<event key>`` (one per rule and
    event, so a redelivered event publishes its firing once)."""
    return f"alert:{rule_id}:{event_key}"


def alerts_market_durable(namespace: str = "") -> str:
    """Durable pull consumer the alert evaluators share on the market stream."""
    return f"{namespace}_alerts_market" if namespace else "alerts_market"
