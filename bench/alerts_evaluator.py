"""Alert rules through the real evaluator: trades on JetStream at 20,000 a second into
`quantflow serve alerts`, firings into the outbox, beside the naive loop in the same run.

The rules and the trades are :mod:`bench.alerts`' (100,000 rules over 100 symbols, 1,000 a
symbol of the six threshold kinds, 4 in 5 RECURRING with a 60 s cooldown; the capture's
trades spread over the symbols, interleaved), with levels spanning the capture's range
widened 5 times: about one level in five lies where its symbol trades during the run. The
rules are copied into ``alert_rules`` before the service starts (100,000 CreateRule calls
would time the API, not the evaluator), each with one webhook channel, so each firing
writes its outbox row. Nothing listens at the channel's URL: a delivery worker in the
service retries the channel's first notification with backoff (a channel is sent to in
order), so sending adds next to no load to the run.

1. Warm-up: the first trade of every symbol, and the wait until the evaluator has acked it.
   A rule's first trade only sets its state, and the evaluator stores every new rule's
   state after it: the 100,000 rules come from one bulk copy, a burst no user's rules
   make. Timed and shown on its own.
2. The run: the rest of the trades handed to ingest's ``EventPublisher`` at 20,000 a second
   for 25 s (``--quick``: 10,000 rules over 10 symbols, 3 s), as ingest hands it what it
   receives (it batches each symbol's run for at most its 20 ms linger). The evaluator's
   durable consumer is sampled for how far behind it falls.

Rate: the run's trades over the time from its first trade handed over to the consumer
having acked the last. Latency, per outbox row: its ``created_at`` (PostgreSQL's
``clock_timestamp()`` in the firing's transaction) minus the wall-clock time its trade was
handed to the publisher (both clocks are this machine's). The run fails unless the outbox
holds exactly the firings ``RuleIndex`` computes over the same trades. The naive loop (a
``RuleMachine`` per rule, all 1,000 of the symbol fed each trade, pure) runs over the
stream's first 2,000 trades.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg
import nats
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from bench import data
from bench.alerts import NAIVE_TRADES, RULES_PER_SYMBOL, SYMBOLS, naive, rules_over, stream
from bench.infra import cpu_seconds, fresh_database, serve, unique_name
from bench.report import Result
from services.alerts.firing import Rule
from services.alerts.rule_index import RuleIndex
from services.common import bus, names
from services.common.deadletter import DeadLetterPublisher
from services.common.embedded import free_port
from services.common.trades import Trade
from services.ingest.publisher import EventPublisher
from services.storage.migrations import migrate

RATE = 20_000
SECONDS = 25.0
QUICK_SECONDS = 3.0
SPREAD = 5.0
_RULE_IDS = uuid.UUID("6f1b3c3e-4f43-4e0e-9d4e-0c0b8e6b1a10")
_TIMEOUT_S = 600.0


def _rule_uuid(rule_id: str) -> uuid.UUID:
    return uuid.uuid5(_RULE_IDS, rule_id)


async def _store_rules(conn: asyncpg.Connection, rules: list[Rule]) -> None:
    channel = uuid.uuid4()
    await conn.execute(
        "INSERT INTO alert_channels (id, kind, name, target) "
        "VALUES ($1, 'WEBHOOK', 'bench', 'http://127.0.0.1:9/nothing-listens')",
        channel,
    )
    await conn.copy_records_to_table(
        "alert_rules",
        columns=["id", "symbol", "condition", "mode", "cooldown_ms", "channel_ids"],
        records=[
            (
                _rule_uuid(rule.rule_id),
                rule.symbol,
                rule.condition.text,
                rule.mode.value,
                rule.cooldown_ms,
                [channel],
            )
            for rule in rules
        ],
    )


async def _publish_paced(
    nc: NatsClient, namespace: str, trades: list[Trade], rate: float
) -> dict[tuple[str, int], float]:
    """Hand ``trades`` to ingest's EventPublisher at ``rate`` a second; the wall-clock
    time each was handed over, by (symbol, trade id)."""
    js = nc.jetstream()
    publisher = EventPublisher(nc, namespace, DeadLetterPublisher(js, namespace, "bench"))
    handed: dict[tuple[str, int], float] = {}
    loop = asyncio.get_running_loop()
    started = loop.time()
    done = 0
    while done < len(trades):
        due = min(len(trades), int((loop.time() - started) * rate) + 1)
        now = time.time()
        for trade in trades[done:due]:
            handed[(trade.symbol, trade.trade_id)] = now
            await publisher.publish(trade)
        done = max(done, due)
        await publisher.send_due()
        await asyncio.sleep(0.002)
    await publisher.flush()
    return handed


class _Consumer:
    """The evaluator's durable consumer on the market stream, watched."""

    def __init__(self, js: JetStreamContext, namespace: str) -> None:
        self._js = js
        self._stream = names.market_stream(namespace)
        self._durable = names.alerts_market_durable(namespace)
        self.most_behind = 0

    async def made(self) -> None:
        """Wait until it exists: the evaluator makes it once its rules are loaded, and a new
        one sees only what is published after."""
        deadline = time.monotonic() + _TIMEOUT_S
        while time.monotonic() < deadline:
            with contextlib.suppress(NotFoundError):
                await self._js.consumer_info(self._stream, self._durable)
                return
            await asyncio.sleep(0.05)
        raise TimeoutError("the alerts evaluator made no consumer")

    async def drained(self, publishing: asyncio.Future[Any] | None = None) -> float:
        """When it had acked everything (after ``publishing`` is done), noting the most
        messages it was behind meanwhile."""
        deadline = time.monotonic() + _TIMEOUT_S
        while time.monotonic() < deadline:
            info = await self._js.consumer_info(self._stream, self._durable)
            behind = info.num_pending + info.num_ack_pending
            self.most_behind = max(self.most_behind, behind)
            if behind == 0 and (publishing is None or publishing.done()):
                return time.time()
            await asyncio.sleep(0.05)
        raise TimeoutError(f"the alerts evaluator was still {behind} messages behind")


@dataclass(frozen=True)
class _Run:
    warm_up_s: float
    started: float
    drained: float
    most_behind: int
    cpu_s: float
    handed: dict[tuple[str, int], float]
    # (rule id, symbol, trade id, outbox row's created_at as epoch seconds)
    outbox: list[tuple[uuid.UUID, str, int, float]]


async def _evaluate(
    admin_url: str, nats_url: str, rules: list[Rule], warm: list[Trade], timed: list[Trade]
) -> _Run:
    namespace = unique_name("b")
    port = free_port()
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    try:
        await bus.ensure_streams(js, namespace, 3600)
        async with fresh_database(admin_url) as url:
            env = {
                **os.environ,
                "QUANTFLOW_DATABASE_URL": url,
                "QUANTFLOW_NATS_URL": nats_url,
                "QUANTFLOW_NAMESPACE": namespace,
                "QUANTFLOW_LOG_LEVEL": "WARNING",
                "QUANTFLOW_ALERTS_GRPC_PORT": str(port),
                "QUANTFLOW_ALERTS_METRICS_PORT": "0",
            }
            conn = await asyncpg.connect(url)
            try:
                await migrate(conn)
                await _store_rules(conn, rules)
                async with serve("alerts", env, port) as alerts:
                    consumer = _Consumer(js, namespace)
                    await consumer.made()
                    warm_from = time.time()
                    await _publish_paced(nc, namespace, warm, RATE)
                    warm_up_s = await consumer.drained() - warm_from
                    consumer.most_behind = 0
                    pid = alerts.process.pid if alerts.process else 0
                    cpu_before = cpu_seconds(pid)
                    started = time.time()
                    publishing = asyncio.ensure_future(_publish_paced(nc, namespace, timed, RATE))
                    drained = await consumer.drained(publishing)
                    handed = await publishing
                    cpu_s = cpu_seconds(pid) - cpu_before
                rows = await conn.fetch(
                    "SELECT f.rule_id, f.symbol, f.trade_id, "
                    "extract(epoch FROM n.created_at)::float8 AS at "
                    "FROM alert_notifications n JOIN alert_firings f ON f.id = n.firing_id"
                )
            finally:
                await conn.close()
    finally:
        for name in (
            names.market_stream(namespace),
            names.deadletter_stream(namespace),
            names.alerts_stream(namespace),
        ):
            with contextlib.suppress(NotFoundError):
                await js.delete_stream(name)
        await nc.close()
    return _Run(
        warm_up_s,
        started,
        drained,
        consumer.most_behind,
        cpu_s,
        handed,
        [(r["rule_id"], r["symbol"], r["trade_id"], r["at"]) for r in rows],
    )


def _percentile(ordered: list[float], fraction: float) -> float:
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def run(admin_url: str, nats_url: str, quick: bool) -> list[Result]:
    symbols = SYMBOLS // 10 if quick else SYMBOLS
    seconds = QUICK_SECONDS if quick else SECONDS
    capture = data.trades()
    trades = stream(capture, symbols, symbols + int(RATE * seconds))
    warm, timed = trades[:symbols], trades[symbols:]  # interleaved: one trade a symbol
    rules = rules_over(capture, symbols, spread=SPREAD)
    index = RuleIndex()
    for rule in rules:
        index.add(rule)
    expected = {
        (_rule_uuid(firing.rule_id), firing.trade_id)
        for trade in trades
        for firing in index.on_trade(trade)
    }
    naive_trades = trades[: NAIVE_TRADES // 4 if quick else NAIVE_TRADES]
    naive_s, _ = naive(rules, naive_trades)

    run = await _evaluate(admin_url, nats_url, rules, warm, timed)
    fired = {(rule_id, trade_id) for rule_id, _, trade_id, _ in run.outbox}
    if fired != expected or len(run.outbox) != len(expected):
        raise RuntimeError(
            f"the evaluator wrote {len(run.outbox)} outbox rows for {len(fired)} firings; "
            f"the rule index fires {len(expected)} times on the same trades "
            f"({len(expected - fired)} missing, {len(fired - expected)} not expected)"
        )
    latencies = sorted(
        (at - run.handed[(symbol, trade_id)]) * 1000 for _, symbol, trade_id, at in run.outbox
    )
    elapsed = run.drained - run.started
    summary = "no firings"
    if latencies:
        summary = (
            f"trade → outbox p50 {_percentile(latencies, 0.5):.1f} ms, "
            f"p99 {_percentile(latencies, 0.99):.1f} ms, max {latencies[-1]:.0f} ms "
            f"({len(latencies):,} firings); at most {run.most_behind:,} messages behind; "
            f"its CPU {run.cpu_s * 1e6 / len(timed):.0f} µs a trade"
        )
    rate = len(timed) / elapsed
    return [
        Result(
            "alerts",
            f"evaluator warm-up: first trade of {len(rules):,} new rules",
            len(warm),
            run.warm_up_s,
            "each new rule's state stored after its first trade",
        ),
        Result(
            "alerts",
            f"evaluator: {len(rules):,} rules, {RATE:,} trades/s for {seconds:.0f} s",
            len(timed),
            elapsed,
            summary,
        ),
        Result(
            "alerts",
            f"naive loop (pure): {RULES_PER_SYMBOL:,} rules per trade",
            len(naive_trades),
            naive_s,
            f"the evaluator sustained {rate / (len(naive_trades) / naive_s):.0f}x this",
        ),
    ]
