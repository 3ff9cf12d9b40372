"""Issue 10's acceptance: alert rules fire exactly where an independent computation over the
raw fixture files says they must, live (events on the bus, the evaluator running) and through
RuleHistory over what storage stored, all on real PostgreSQL, NATS JetStream and gRPC.

- A ``price crosses_above L`` rule over the real BTCUSDT capture replayed by ingest's replay
  source: the trades where the previous trade's price was at or below L and this one's is
  above (the capture read with gzip and json).
- Indicator rules (``rsi(14) < 30``, ``close crosses_above sma(20)``) on a real day of 1m
  klines: imported with ``quantflow import``'s path and asked of RuleHistory, and published
  on the bus as closed klines for the live evaluator; the candles where RSI (the `ta`
  library) or SMA (numpy) say the condition turns true.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal

import grpc
import pytest
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js.errors import NotFoundError
from prometheus_client import REGISTRY

from quantflow.alerts.v1 import alert_fired_pb2, alerts_service_pb2_grpc
from quantflow.alerts.v1 import alerts_service_pb2 as pb
from quantflow.market.v1 import ingest_service_pb2, ingest_service_pb2_grpc
from services.alerts import service as alerts_service
from services.cli.import_ import import_files
from services.common import names
from services.common.embedded import free_port
from services.common.settings import Settings
from services.ingest import service as ingest_service
from services.ingest.vision_files import Given
from services.storage import service as storage_service
from tests.conftest import FIXTURES, HFT_CAPTURE
from tests.integration.alert_expectations import (
    RawCandle,
    candles,
    capture_trades,
    close_crosses_above_sma,
    crossings_above,
    rsi_below,
)
from tests.integration.helpers import eventually, running, service_settings, trade_publisher
from tests.vision_klines import SPOT_1M, klines

pytestmark = pytest.mark.integration

# Inside the capture's range (61,583.22 – 61,860.80), where the price goes back and forth:
# the price sits exactly on it often, so crossings from exactly L are among the expected.
LEVEL = Decimal("61728")
SPOT_DAY = FIXTURES / "vision" / "spot" / "ETHUSDT-1m-2022-08-14.zip"
MINUTE = 60_000
INDICATOR_RULES = ("rsi(14) < 30", "close crosses_above sma(20)")


def _expected_candles(condition: str, day: list[RawCandle]) -> list[int]:
    """The open times where ``condition`` fires, computed independently; the values must
    stay far from the threshold, so no correct implementation can disagree by rounding."""
    if condition == "rsi(14) < 30":
        indices, margin = rsi_below(day, 14, 30.0)
    else:
        indices, margin = close_crosses_above_sma(day, 20)
    assert margin > 1e-6, f"{condition}: a value within {margin} of the threshold"
    return [day[i].open_time_ms for i in indices]


@dataclass
class Alerts:
    stub: alerts_service_pb2_grpc.AlertsServiceStub
    settings: Settings

    async def create_rule(self, symbol: str, condition: str, interval: str = "") -> pb.Rule:
        reply = await self.stub.CreateRule(
            pb.CreateRuleRequest(
                input=pb.RuleInput(
                    symbol=symbol,
                    condition=condition,
                    interval=interval,
                    mode=pb.RULE_MODE_RECURRING,
                    cooldown_seconds=0,
                )
            ),
            timeout=10,
        )
        return reply.rule

    async def firings(self, rule_id: str) -> list[pb.Firing]:
        """Every firing of the rule (ListNotifications, every page), oldest first."""
        found: list[pb.Firing] = []
        token = ""
        while True:
            reply = await self.stub.ListNotifications(
                pb.ListNotificationsRequest(rule_id=rule_id, page_size=500, page_token=token),
                timeout=10,
            )
            found += reply.firings
            token = reply.next_page_token
            if not token:
                return sorted(found, key=lambda firing: (firing.time_ms, firing.trade_id))

    async def history(
        self, symbol: str, condition: str, from_ms: int, to_ms: int, interval: str = ""
    ) -> list[pb.Firing]:
        reply = await self.stub.RuleHistory(
            pb.RuleHistoryRequest(
                symbol=symbol,
                condition=condition,
                interval=interval,
                from_ms=from_ms,
                to_ms=to_ms,
            ),
            timeout=60,
        )
        return list(reply.firings)


def _settings(database_url: str, nats_url: str, namespace: str, **extra: object) -> Settings:
    port = free_port()
    return service_settings(
        database_url,
        nats_url,
        namespace,
        alerts_grpc_port=port,
        alerts_target=f"127.0.0.1:{port}",
        alerts_metrics_port=0,
        **extra,
    )


@contextlib.asynccontextmanager
async def _alerts(settings: Settings, nats_client: NatsClient) -> AsyncIterator[Alerts]:
    """Storage and the alerts service running on ``settings``, its evaluator's durable
    consumer in place (it watches from its creation on: events published before it are
    not the evaluator's)."""
    namespace = settings.namespace
    async with (
        running(storage_service.run, settings, settings.storage_grpc_port),
        running(alerts_service.run, settings, settings.alerts_grpc_port),
        grpc.aio.insecure_channel(settings.alerts_target) as channel,
    ):
        await eventually(lambda: _consumer_exists(nats_client, namespace))
        yield Alerts(alerts_service_pb2_grpc.AlertsServiceStub(channel), settings)


async def _consumer_exists(nats_client: NatsClient, namespace: str) -> bool:
    try:
        await nats_client.jetstream().consumer_info(
            names.market_stream(namespace), names.alerts_market_durable(namespace)
        )
    except NotFoundError:
        return False
    return True


async def _watching(rules: int) -> bool:
    """The evaluator (this process's: its rule gauge) watches ``rules`` rules: a rule
    created over gRPC reaches it by NOTIFY, asynchronously."""
    return bool(REGISTRY.get_sample_value("quantflow_alerts_rules_live") == rules)


@contextlib.asynccontextmanager
async def _fired_on_bus(nats_client: NatsClient, namespace: str) -> AsyncIterator[list[Msg]]:
    """Every AlertFired published while the block runs (core NATS subscription)."""
    received: list[Msg] = []

    async def keep(message: Msg) -> None:
        received.append(message)

    subscription = await nats_client.subscribe(names.all_alerts_fired_subject(namespace), cb=keep)
    try:
        yield received
    finally:
        await subscription.unsubscribe()
        with contextlib.suppress(NotFoundError):
            await nats_client.jetstream().delete_stream(names.alerts_stream(namespace))


async def _drained(nats_client: NatsClient, namespace: str, durable: str) -> bool:
    """The durable consumer exists and has acked everything on the market stream."""
    js = nats_client.jetstream()
    try:
        info = await js.consumer_info(names.market_stream(namespace), durable)
    except NotFoundError:
        return False
    return bool(info.num_pending == 0 and info.num_ack_pending == 0)


async def _evaluator_drained(nats_client: NatsClient, namespace: str) -> bool:
    return await _drained(nats_client, namespace, names.alerts_market_durable(namespace))


async def _storage_drained(nats_client: NatsClient, namespace: str) -> bool:
    return await _drained(nats_client, namespace, names.storage_market_durable(namespace))


async def _ingest_finished(target: str) -> bool:
    async with grpc.aio.insecure_channel(target) as channel:
        stub = ingest_service_pb2_grpc.IngestServiceStub(channel)
        status = await stub.GetIngestStatus(ingest_service_pb2.GetIngestStatusRequest(), timeout=5)
    return bool(status.source_finished)


async def _settled(messages: list[Msg], count: int) -> bool:
    return len(messages) >= count


def _trade_points(firings: list[pb.Firing]) -> list[tuple[int, Decimal, int]]:
    return [(f.trade_id, Decimal(f.price), f.time_ms) for f in firings]


def _bus_points(messages: list[Msg]) -> list[tuple[int, Decimal, int]]:
    fired = [alert_fired_pb2.AlertFired.FromString(m.data) for m in messages]
    return sorted((f.trade_id, Decimal(f.price), f.time_ms) for f in fired)


async def test_price_crossing_fires_at_exactly_the_capture_trades_that_cross_live_and_in_history(
    database_url: str, nats_url: str, namespace: str, nats_client: NatsClient
) -> None:
    trades = capture_trades(HFT_CAPTURE)
    crossing = crossings_above(trades, LEVEL)
    expected = [(t.trade_id, t.price, t.time_ms) for t in crossing]
    # The level is one the capture crosses many times, from exactly the level among others.
    assert len(expected) >= 10
    before = {t.trade_id: t.price for t in trades}
    assert any(before[t.trade_id - 1] == LEVEL for t in crossing)
    condition = f"price crosses_above {LEVEL}"
    settings = _settings(database_url, nats_url, namespace, source=f"replay:{HFT_CAPTURE}")

    async with (
        _alerts(settings, nats_client) as alerts,
        _fired_on_bus(nats_client, namespace) as fired,
    ):
        rule = await alerts.create_rule("BTCUSDT", condition)
        await eventually(lambda: _watching(1))
        async with running(ingest_service.run, settings, settings.ingest_grpc_port):
            await eventually(lambda: _ingest_finished(settings.ingest_target), timeout=120)
        await eventually(lambda: _evaluator_drained(nats_client, namespace), timeout=60)
        await eventually(lambda: _storage_drained(nats_client, namespace), timeout=60)
        live = await alerts.firings(rule.id)
        after = (await alerts.stub.GetRule(pb.GetRuleRequest(id=rule.id), timeout=10)).rule
        history = await alerts.history(
            "BTCUSDT", condition, trades[0].time_ms, trades[-1].time_ms + 1
        )
        await eventually(lambda: _settled(fired, len(expected)))

    assert _trade_points(live) == expected
    assert [f.rule_id for f in live] == [rule.id] * len(expected)
    # Several crossings come in one bus batch: each counts.
    assert (after.fired_count, after.last_fired_ms) == (len(expected), expected[-1][2])
    assert _trade_points(history) == expected
    assert _bus_points(fired) == expected


@pytest.mark.parametrize("condition", INDICATOR_RULES)
async def test_indicator_rule_history_over_imported_klines_fires_on_the_computed_candles(
    database_url: str, nats_url: str, namespace: str, nats_client: NatsClient, condition: str
) -> None:
    day = candles(SPOT_DAY)
    expected = _expected_candles(condition, day)
    assert len(expected) >= 5
    (imported,) = await import_files(database_url, [SPOT_DAY], Given())
    assert imported.new == len(day)
    settings = _settings(database_url, nats_url, namespace)
    closes = {c.open_time_ms: c.close for c in day}

    async with _alerts(settings, nats_client) as alerts:
        history = await alerts.history(
            "ETHUSDT", condition, day[0].open_time_ms, day[-1].open_time_ms + MINUTE, "1m"
        )

    assert [f.time_ms for f in history] == expected
    assert [f.candle_open_ms for f in history] == expected
    assert [Decimal(f.price) for f in history] == [closes[t] for t in expected]


@pytest.mark.parametrize("condition", INDICATOR_RULES)
async def test_indicator_rule_fires_live_on_closed_klines_from_the_bus_as_computed(
    database_url: str, nats_url: str, namespace: str, nats_client: NatsClient, condition: str
) -> None:
    day = candles(SPOT_1M)
    expected = _expected_candles(condition, day)
    assert len(expected) >= 5
    closes = {c.open_time_ms: c.close for c in day}
    settings = _settings(database_url, nats_url, namespace)
    events = klines(SPOT_1M, "binance", "ETHUSDT", "1m")

    _, publisher = await trade_publisher(nats_client, namespace)
    async with (
        _alerts(settings, nats_client) as alerts,
        _fired_on_bus(nats_client, namespace) as fired,
    ):
        rule = await alerts.create_rule("ETHUSDT", condition, "1m")
        await eventually(lambda: _watching(1))
        for event in events:
            await publisher.publish(event)
        await publisher.flush()
        await eventually(lambda: _evaluator_drained(nats_client, namespace), timeout=120)
        await eventually(lambda: _storage_drained(nats_client, namespace), timeout=60)
        live = await alerts.firings(rule.id)
        await eventually(lambda: _settled(fired, len(expected)))
        # What storage stored from the bus meanwhile gives the same history.
        history = await alerts.history(
            "ETHUSDT", condition, day[0].open_time_ms, day[-1].open_time_ms + MINUTE, "1m"
        )

    assert [f.candle_open_ms for f in live] == expected
    assert [Decimal(f.price) for f in live] == [closes[t] for t in expected]
    assert [f.time_ms for f in history] == expected
    assert sorted(alert_fired_pb2.AlertFired.FromString(m.data).candle_open_ms for m in fired) == (
        expected
    )
