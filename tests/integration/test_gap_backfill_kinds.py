"""Gaps in the live aggTrade and kline feeds are found and filled from REST: the WebSocket
fake withholds a stretch around a forced disconnect, REST serves it, and PostgreSQL ends
with every agg id, and every minute's final kline, exactly once."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

import asyncpg
import grpc
import nats.errors
import pytest
from nats.aio.client import Client as NatsClient

from quantflow.market.v1 import gap_event_pb2
from quantflow.storage.v1 import storage_service_pb2 as storage_pb
from quantflow.storage.v1 import storage_service_pb2_grpc
from services.common import names
from services.common.settings import Settings
from services.ingest import service as ingest_service
from services.storage import service as storage_service
from tests.conftest import FIXTURES
from tests.fakes.binance_rest import (
    FakeBinanceRest,
    agg_trades_from_capture,
    klines_from_csv,
    monthly_klines,
)
from tests.fakes.binance_server import FakeBinanceServer, Tape
from tests.fakes.kline_tapes import kline_tape
from tests.integration.helpers import eventually, running, service_settings

pytestmark = pytest.mark.integration

AGG_CAPTURE = FIXTURES / "binance_spot_ws_2021-04-04_kline_aggtrade.jsonl"
AGGS = agg_trades_from_capture(AGG_CAPTURE)["BTCUSDT"]
AGG_IDS = [a["a"] for a in AGGS]
KLINES = klines_from_csv(FIXTURES / "ETHUSDT-1m-2022-08-14.csv")
OPEN_TIMES = [k[0] for k in KLINES]
MINUTE = 60_000


def _settings(
    namespace: str, urls: tuple[str, str], ws: str, rest: str, **extra: object
) -> Settings:
    database_url, nats_url = urls
    return service_settings(
        database_url, nats_url, namespace, binance_ws_url=ws, binance_rest_url=rest, **extra
    )


async def _fetch(database_url: str, query: str) -> list[int]:
    conn = await asyncpg.connect(database_url)
    try:
        return [row[0] for row in await conn.fetch(query)]
    finally:
        await conn.close()


async def _gap_events(nats_client: NatsClient, namespace: str) -> list[tuple[str, int, int, str]]:
    subscription = await nats_client.jetstream().subscribe(
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
        state = gap_event_pb2.GapState.Name(event.state)
        events.append((event.kind, event.first_id, event.last_id, state))
    await subscription.unsubscribe()
    return events


async def test_agg_trades_withheld_around_a_disconnect_are_backfilled_and_stored_once(
    database_url: str, nats_url: str, namespace: str, nats_client: NatsClient
) -> None:
    withheld = range(AGG_IDS[400], AGG_IDS[700])
    full = Tape.from_file(AGG_CAPTURE)
    tape = Tape(tuple(m for m in full.messages if m.stream == "btcusdt@aggTrade"))
    query = "SELECT agg_id FROM agg_trades WHERE symbol = 'BTCUSDT' ORDER BY agg_id"

    async def all_stored() -> bool:
        return len(await _fetch(database_url, query)) >= len(AGG_IDS)

    async with (
        FakeBinanceServer(tape, withheld_agg_ids=withheld) as ws,
        FakeBinanceRest(agg_trades={"BTCUSDT": AGGS}) as rest,
    ):
        settings = _settings(
            namespace,
            (database_url, nats_url),
            ws.ws_url,
            rest.url,
            symbols=("BTCUSDT",),
            streams=("aggTrade",),
        )
        async with (
            running(storage_service.run, settings, settings.storage_grpc_port),
            running(ingest_service.run, settings, settings.ingest_grpc_port),
        ):
            await eventually(all_stored, timeout=90)
            await eventually(
                lambda: _gap_events_end_with(nats_client, namespace, "GAP_STATE_FILLED")
            )
    assert ws.withheld_disconnects == 1 and ws.connections_total >= 2
    assert await _fetch(database_url, query) == AGG_IDS
    assert int(rest.served("aggTrades")[0].params["fromId"]) == withheld.start
    assert rest.early_requests == 0
    assert await _gap_events(nats_client, namespace) == [
        ("aggtrade", withheld.start, withheld.stop - 1, "GAP_STATE_OPENED"),
        ("aggtrade", withheld.start, withheld.stop - 1, "GAP_STATE_FILLED"),
    ]


async def _gap_events_end_with(nats_client: NatsClient, namespace: str, state: str) -> bool:
    events = await _gap_events(nats_client, namespace)
    return bool(events) and events[-1][3] == state


async def test_final_klines_withheld_around_a_disconnect_are_backfilled_and_stored_once(
    database_url: str, nats_url: str, namespace: str, nats_client: NatsClient
) -> None:
    # Minutes 600-659 of the day: their in-progress updates and final klines are lost.
    withheld = OPEN_TIMES[600:660]
    query = (
        "SELECT (extract(epoch FROM open_time) * 1000)::bigint FROM klines "
        "WHERE symbol = 'ETHUSDT' AND interval = '1m' ORDER BY open_time"
    )

    async def all_stored() -> bool:
        return len(await _fetch(database_url, query)) >= len(OPEN_TIMES)

    async with (
        FakeBinanceServer(
            kline_tape("ETHUSDT", "1m", KLINES), withheld_kline_open_times=withheld
        ) as ws,
        FakeBinanceRest(klines={("ETHUSDT", "1m"): KLINES}) as rest,
    ):
        settings = _settings(
            namespace,
            (database_url, nats_url),
            ws.ws_url,
            rest.url,
            symbols=("ETHUSDT",),
            streams=("kline_1m",),
        )
        async with (
            running(storage_service.run, settings, settings.storage_grpc_port),
            running(ingest_service.run, settings, settings.ingest_grpc_port),
        ):
            await eventually(all_stored, timeout=90)
            await eventually(
                lambda: _gap_events_end_with(nats_client, namespace, "GAP_STATE_FILLED")
            )
    assert ws.withheld_disconnects == 1
    assert await _fetch(database_url, query) == OPEN_TIMES
    served = rest.served("klines")
    assert [int(r.params["startTime"]) for r in served] == [withheld[0]]
    assert json.dumps(await _gap_events(nats_client, namespace)) == json.dumps(
        [
            ["kline_1m", withheld[0], withheld[-1], "GAP_STATE_OPENED"],
            ["kline_1m", withheld[0], withheld[-1], "GAP_STATE_FILLED"],
        ]
    )
    assert withheld[-1] - withheld[0] == 59 * MINUTE
    # The backfilled candles are the exchange's, field for field.
    conn = await asyncpg.connect(database_url)
    try:
        row = await conn.fetchrow(
            "SELECT open::text, close::text, trades FROM klines "
            "WHERE open_time = to_timestamp($1 / 1000.0)",
            withheld[5],
        )
    finally:
        await conn.close()
    assert row is not None
    assert (row["trades"], row["open"], row["close"]) == (
        KLINES[605][8],
        KLINES[605][1],
        KLINES[605][4],
    )


async def test_klines_binance_lacks_in_a_live_gap_become_an_exchange_hole_in_coverage(
    database_url: str, nats_url: str, namespace: str, nats_client: NatsClient
) -> None:
    # Minutes 600-659 are lost live; of them, 620-629 Binance's REST has no candles for
    # either (an outage on its side), as real BTCUSDT history has dozens of.
    withheld = OPEN_TIMES[600:660]
    outage = OPEN_TIMES[620:630]
    query = "SELECT count(*) FROM klines WHERE symbol = 'ETHUSDT' AND interval = '1m'"

    async def all_stored() -> bool:
        return (await _fetch(database_url, query))[0] >= len(OPEN_TIMES) - len(outage)

    async with (
        FakeBinanceServer(
            kline_tape("ETHUSDT", "1m", KLINES), withheld_kline_open_times=withheld
        ) as ws,
        FakeBinanceRest(
            klines={("ETHUSDT", "1m"): [k for k in KLINES if k[0] not in outage]}
        ) as rest,
    ):
        settings = _settings(
            namespace,
            (database_url, nats_url),
            ws.ws_url,
            rest.url,
            symbols=("ETHUSDT",),
            streams=("kline_1m",),
        )
        async with (
            running(storage_service.run, settings, settings.storage_grpc_port),
            running(ingest_service.run, settings, settings.ingest_grpc_port),
            grpc.aio.insecure_channel(settings.storage_target) as channel,
        ):
            await eventually(all_stored, timeout=90)
            stub = storage_service_pb2_grpc.StorageServiceStub(channel)
            request = storage_pb.GetCoverageRequest(symbol="ETHUSDT", kind="kline_1m")

            async def outage_known() -> bool:
                return bool((await stub.GetCoverage(request)).exchange_missing_count)

            await eventually(outage_known)
            coverage = await stub.GetCoverage(request)
    assert await _gap_events(nats_client, namespace) == [
        ("kline_1m", withheld[0], withheld[-1], "GAP_STATE_OPENED"),
        ("kline_1m", withheld[0], withheld[-1], "GAP_STATE_UNFILLABLE"),
        ("kline_1m", outage[0], outage[-1], "GAP_STATE_EXCHANGE_HOLE"),
    ]
    assert [(h.first_id, h.last_id, h.missing, h.cause) for h in coverage.holes] == [
        (outage[0], outage[-1], 10, storage_pb.HOLE_CAUSE_EXCHANGE)
    ]
    assert coverage.stored_count == len(OPEN_TIMES) - len(outage)


async def test_calendar_months_of_klines_withheld_around_a_disconnect_are_backfilled(
    database_url: str, nats_url: str, namespace: str, nats_client: NatsClient
) -> None:
    months = monthly_klines(2022, 1, 24)
    open_times = [k[0] for k in months]
    # 2022-11 to 2023-03: months of 30, 31, 31, 28 and 31 days are lost.
    withheld = open_times[10:15]
    query = (
        "SELECT (extract(epoch FROM open_time) * 1000)::bigint FROM klines "
        "WHERE symbol = 'ETHUSDT' AND interval = '1M' ORDER BY open_time"
    )

    async def all_stored() -> bool:
        return len(await _fetch(database_url, query)) >= len(open_times)

    async with (
        FakeBinanceServer(
            kline_tape("ETHUSDT", "1M", months), withheld_kline_open_times=withheld
        ) as ws,
        FakeBinanceRest(klines={("ETHUSDT", "1M"): months}) as rest,
    ):
        settings = _settings(
            namespace,
            (database_url, nats_url),
            ws.ws_url,
            rest.url,
            symbols=("ETHUSDT",),
            streams=("kline_1M",),
        )
        async with (
            running(storage_service.run, settings, settings.storage_grpc_port),
            running(ingest_service.run, settings, settings.ingest_grpc_port),
        ):
            await eventually(all_stored, timeout=90)
            await eventually(
                lambda: _gap_events_end_with(nats_client, namespace, "GAP_STATE_FILLED")
            )
    assert ws.withheld_disconnects == 1
    assert await _fetch(database_url, query) == open_times
    served = rest.served("klines")
    assert [(int(r.params["startTime"]), int(r.params["endTime"])) for r in served] == [
        (withheld[0], withheld[-1])
    ]
    assert await _gap_events(nats_client, namespace) == [
        ("kline_1M", withheld[0], withheld[-1], "GAP_STATE_OPENED"),
        ("kline_1M", withheld[0], withheld[-1], "GAP_STATE_FILLED"),
    ]


def _agg_tape(first: int, end: int | None = None) -> Tape:
    full = Tape.from_file(AGG_CAPTURE)
    aggs = [m for m in full.messages if m.stream == "btcusdt@aggTrade"]
    return Tape(tuple(aggs[first:end]))


@pytest.mark.parametrize("kind", ["aggtrade", "kline_1m"])
async def test_a_restarted_ingest_backfills_the_hole_after_the_last_stored_id(
    database_url: str, nats_url: str, namespace: str, nats_client: NatsClient, kind: str
) -> None:
    # Ingest stores the first part of the series, is down while the middle happens, and
    # comes back to a live feed that carries on after it.
    if kind == "aggtrade":
        symbol, stream, ids = "BTCUSDT", "aggTrade", AGG_IDS
        before, after = _agg_tape(0, 400), _agg_tape(700)
        rest = FakeBinanceRest(agg_trades={"BTCUSDT": AGGS})
        query = "SELECT agg_id FROM agg_trades ORDER BY agg_id"
    else:
        symbol, stream, ids = "ETHUSDT", "kline_1m", OPEN_TIMES
        before = kline_tape("ETHUSDT", "1m", KLINES[:400])
        after = kline_tape("ETHUSDT", "1m", KLINES[700:])
        rest = FakeBinanceRest(klines={("ETHUSDT", "1m"): KLINES})
        query = "SELECT (extract(epoch FROM open_time) * 1000)::bigint FROM klines ORDER BY 1"

    def stored(count: int) -> Callable[[], Awaitable[bool]]:
        async def check() -> bool:
            return len(await _fetch(database_url, query)) >= count

        return check

    async with rest, FakeBinanceServer(before) as ws:
        settings = _settings(
            namespace,
            (database_url, nats_url),
            ws.ws_url,
            rest.url,
            symbols=(symbol,),
            streams=(stream,),
        )
        async with running(storage_service.run, settings, settings.storage_grpc_port):
            async with running(ingest_service.run, settings, settings.ingest_grpc_port):
                await eventually(stored(400))
            async with FakeBinanceServer(after) as ws2:
                later = settings.model_copy(update={"binance_ws_url": ws2.ws_url})
                async with running(ingest_service.run, later, later.ingest_grpc_port):
                    await eventually(stored(len(ids)), timeout=90)
                    await eventually(
                        lambda: _gap_events_end_with(nats_client, namespace, "GAP_STATE_FILLED")
                    )
    assert await _fetch(database_url, query) == ids
    assert await _gap_events(nats_client, namespace) == [
        (kind, ids[400], ids[699], "GAP_STATE_OPENED"),
        (kind, ids[400], ids[699], "GAP_STATE_FILLED"),
    ]
