"""Gaps in the live trade feed are found and filled from REST: the WebSocket fake withholds
a stretch of real trades, REST serves them, and PostgreSQL ends with every trade id once."""

from __future__ import annotations

import json

import asyncpg
import nats.errors
import pytest
from nats.aio.client import Client as NatsClient
from prometheus_client import REGISTRY

from quantflow.market.v1 import gap_event_pb2
from services.common import names
from services.common.settings import Settings
from services.common.trades import Trade
from services.ingest import service as ingest_service
from services.ingest.rest_payloads import parse_rest_trade
from services.storage import service as storage_service
from tests.conftest import HFT_CAPTURE
from tests.fakes.binance_rest import FakeBinanceRest, trades_from_capture
from tests.fakes.binance_server import FakeBinanceServer, Tape
from tests.integration.helpers import eventually, running, service_settings, trade_publisher

pytestmark = pytest.mark.integration

TRADES = trades_from_capture(HFT_CAPTURE)["BTCUSDT"]
FIRST = TRADES[0]["id"]
ALL_IDS = [t["id"] for t in TRADES]


def _trade_tape(first: int = 0, end: int | None = None) -> Tape:
    """The capture's trade messages from index ``first`` to ``end``."""
    full = Tape.from_file(HFT_CAPTURE)
    trades = [m for m in full.messages if m.stream == "btcusdt@trade"]
    return Tape(tuple(trades[first:end]))


async def _stored_ids(database_url: str) -> list[int]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT trade_id FROM trades WHERE venue = 'binance' AND symbol = 'BTCUSDT' "
            "ORDER BY trade_id"
        )
    finally:
        await conn.close()
    return [row["trade_id"] for row in rows]


async def _all_stored(database_url: str, count: int = len(ALL_IDS)) -> bool:
    conn = await asyncpg.connect(database_url)
    try:
        stored: int = await conn.fetchval("SELECT count(*) FROM trades")
    finally:
        await conn.close()
    return stored >= count


async def _gap_events(nats_client: NatsClient, namespace: str) -> list[tuple[int, int, str]]:
    js = nats_client.jetstream()
    subscription = await js.subscribe(
        names.all_gaps_subject(namespace),
        stream=names.market_stream(namespace),
        ordered_consumer=True,
    )
    events = []
    while True:
        try:
            message = await subscription.next_msg(timeout=0.5)
        except nats.errors.TimeoutError:
            break
        event = gap_event_pb2.GapEvent.FromString(message.data)
        assert (event.venue, event.symbol, event.kind) == ("binance", "BTCUSDT", "trade")
        events.append((event.first_id, event.last_id, gap_event_pb2.GapState.Name(event.state)))
    await subscription.unsubscribe()
    return events


def _gaps_counted(state: str) -> float:
    return REGISTRY.get_sample_value("quantflow_ingest_gaps_total", {"state": state}) or 0.0


async def _filled(nats_client: NatsClient, namespace: str) -> bool:
    events = await _gap_events(nats_client, namespace)
    return bool(events) and events[-1][2] == "GAP_STATE_FILLED"


def _settings(database_url: str, nats_url: str, namespace: str, ws: str, rest: str) -> Settings:
    return service_settings(
        database_url,
        nats_url,
        namespace,
        binance_ws_url=ws,
        binance_rest_url=rest,
        symbols=("BTCUSDT",),
    )


@pytest.mark.parametrize(
    "refusal",
    [None, (429, 1), (418, 2)],
    ids=["no-rate-limit", "429-retry-after", "418-ban"],
)
async def test_trades_withheld_around_a_disconnect_are_backfilled_and_stored_exactly_once(
    database_url: str,
    nats_url: str,
    namespace: str,
    nats_client: NatsClient,
    refusal: tuple[int, int] | None,
) -> None:
    withheld = range(FIRST + 3000, FIRST + 4000)
    counted_before = {state: _gaps_counted(state) for state in ("opened", "filled")}
    rest = FakeBinanceRest(trades={"BTCUSDT": TRADES})
    if refusal is not None:
        rest.fail_next(refusal[0], retry_after_s=refusal[1], endpoint="historicalTrades")
    async with (
        FakeBinanceServer(_trade_tape(), withheld_trade_ids=withheld) as ws,
        rest,
    ):
        settings = _settings(database_url, nats_url, namespace, ws.ws_url, rest.url)
        async with (
            running(storage_service.run, settings, settings.storage_grpc_port),
            running(ingest_service.run, settings, settings.ingest_grpc_port),
        ):
            await eventually(lambda: _all_stored(database_url), timeout=90)
            await eventually(lambda: _filled(nats_client, namespace))
    assert ws.withheld_disconnects == 1 and ws.connections_total >= 2
    assert await _stored_ids(database_url) == ALL_IDS
    served = rest.served("historicalTrades")
    assert int(served[0].params["fromId"]) == withheld.start
    assert rest.early_requests == 0
    if refusal is not None:
        fetches = [r for r in rest.requests if r.endpoint == "historicalTrades"]
        assert [r.status for r in fetches][:2] == [refusal[0], 200]
        assert fetches[1].at - fetches[0].at >= refusal[1]
    assert {s: _gaps_counted(s) - n for s, n in counted_before.items()} == {
        "opened": 1,
        "filled": 1,
    }
    assert await _gap_events(nats_client, namespace) == [
        (withheld.start, withheld.stop - 1, "GAP_STATE_OPENED"),
        (withheld.start, withheld.stop - 1, "GAP_STATE_FILLED"),
    ]


async def test_a_restarted_ingest_backfills_the_hole_after_the_last_stored_trade(
    database_url: str, nats_url: str, namespace: str, nats_client: NatsClient
) -> None:
    async with FakeBinanceRest(trades={"BTCUSDT": TRADES}) as rest:
        async with FakeBinanceServer(_trade_tape(0, 3000)) as ws:
            settings = _settings(database_url, nats_url, namespace, ws.ws_url, rest.url)
            async with running(storage_service.run, settings, settings.storage_grpc_port):
                async with running(ingest_service.run, settings, settings.ingest_grpc_port):
                    await eventually(lambda: _all_stored(database_url, 3000))
                # Ingest is down while trades 3000-4999 happen; it comes back to the live
                # feed at trade 5000.
                async with FakeBinanceServer(_trade_tape(5000)) as ws2:
                    later = settings.model_copy(update={"binance_ws_url": ws2.ws_url})
                    async with running(ingest_service.run, later, later.ingest_grpc_port):
                        await eventually(lambda: _all_stored(database_url), timeout=90)
                        await eventually(lambda: _filled(nats_client, namespace))
    assert await _stored_ids(database_url) == ALL_IDS
    assert int(rest.served("historicalTrades")[0].params["fromId"]) == FIRST + 3000
    assert json.dumps(await _gap_events(nats_client, namespace)) == json.dumps(
        [
            [FIRST + 3000, FIRST + 4999, "GAP_STATE_OPENED"],
            [FIRST + 3000, FIRST + 4999, "GAP_STATE_FILLED"],
        ]
    )


async def test_a_hole_left_in_storage_by_an_earlier_run_is_filled_at_start_up(
    database_url: str, nats_url: str, namespace: str, nats_client: NatsClient
) -> None:
    # An earlier run stored trades 0-2999 and 4000-4999 and stopped while filling 3000-3999.
    _, publisher = await trade_publisher(nats_client, namespace)
    async with FakeBinanceRest(trades={"BTCUSDT": TRADES}) as rest:
        async with FakeBinanceServer(_trade_tape(5000)) as ws:
            settings = _settings(database_url, nats_url, namespace, ws.ws_url, rest.url)
            async with running(storage_service.run, settings, settings.storage_grpc_port):
                for item in TRADES[:3000] + TRADES[4000:5000]:
                    trade = parse_rest_trade(item, "binance", "BTCUSDT")
                    assert isinstance(trade, Trade)
                    await publisher.publish(trade)
                await publisher.flush()
                await eventually(lambda: _all_stored(database_url, 4000))
                async with running(ingest_service.run, settings, settings.ingest_grpc_port):
                    await eventually(lambda: _all_stored(database_url), timeout=90)
                    await eventually(lambda: _filled(nats_client, namespace))
    assert await _stored_ids(database_url) == ALL_IDS
    assert [int(r.params["fromId"]) for r in rest.served("historicalTrades")] == [FIRST + 3000]
