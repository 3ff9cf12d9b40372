"""Every stream kind end to end with real servers: the fake Binance (or a replayed real
capture) → ingest → JetStream → storage → PostgreSQL."""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import grpc
import pytest
from nats.aio.client import Client as NatsClient

from quantflow.market.v1 import ingest_service_pb2 as ingest_pb
from quantflow.market.v1 import ingest_service_pb2_grpc
from quantflow.storage.v1 import storage_service_pb2 as storage_pb
from quantflow.storage.v1 import storage_service_pb2_grpc
from services.common import names
from services.common.codec import encode_event
from services.common.deadletter import REASON_HEADER
from services.common.events import Kline
from services.common.settings import Settings
from services.ingest import service as ingest_service
from services.ingest.binance import parse_message
from services.ingest.recordings import read_recording
from services.storage import service as storage_service
from tests.conftest import FIXTURES, SAMPLE_CAPTURE
from tests.fakes.binance_server import FakeBinanceServer, Tape
from tests.integration.helpers import eventually, running, service_settings, trade_publisher

pytestmark = pytest.mark.integration

KLINE_AGGTRADE_CAPTURE = FIXTURES / "binance_spot_ws_2021-04-04_kline_aggtrade.jsonl"
TICKER_CAPTURE = FIXTURES / "binance_spot_ticker_miniticker_derived.jsonl"


def _payloads(path: Path, suffix: str) -> list[dict[str, Any]]:
    found = []
    for recorded in read_recording(path):
        message = json.loads(recorded.text)
        if message.get("stream", "").endswith(suffix):
            found.append(message["data"])
    return found


async def _ingest_status(settings: Settings) -> ingest_pb.GetIngestStatusResponse:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{settings.ingest_grpc_port}") as channel:
        stub = ingest_service_pb2_grpc.IngestServiceStub(channel)
        return await stub.GetIngestStatus(ingest_pb.GetIngestStatusRequest(), timeout=5)


async def _storage_status(settings: Settings) -> storage_pb.GetStorageStatusResponse:
    async with grpc.aio.insecure_channel(settings.storage_target) as channel:
        stub = storage_service_pb2_grpc.StorageServiceStub(channel)
        return await stub.GetStorageStatus(storage_pb.GetStorageStatusRequest(), timeout=5)


async def _fetch(database_url: str, query: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(database_url)
    try:
        return list(await conn.fetch(query))
    finally:
        await conn.close()


async def _replay_once(settings: Settings) -> None:
    async with running(ingest_service.run, settings, settings.ingest_grpc_port):

        async def finished() -> bool:
            return bool((await _ingest_status(settings)).source_finished)

        await eventually(finished, timeout=60)


async def _storage_caught_up(nats_client: NatsClient, namespace: str) -> bool:
    info = await nats_client.jetstream().consumer_info(
        names.market_stream(namespace), names.storage_market_durable(namespace)
    )
    return bool(info.num_pending == 0 and info.num_ack_pending == 0)


async def test_replayed_2021_capture_stores_every_aggtrade_once_and_only_final_klines(
    database_url: str, nats_url: str, namespace: str, nats_client: NatsClient
) -> None:
    agg_trades = {(d["s"], d["a"]): d for d in _payloads(KLINE_AGGTRADE_CAPTURE, "@aggTrade")}
    final = [d["k"] for d in _payloads(KLINE_AGGTRADE_CAPTURE, "@kline_1m") if d["k"]["x"]]
    assert (len(agg_trades), len(final)) == (1_910, 3)  # SOURCES.md
    settings = service_settings(
        database_url, nats_url, namespace, source=f"replay:{KLINE_AGGTRADE_CAPTURE}"
    )
    async with running(storage_service.run, settings, settings.storage_grpc_port):
        await _replay_once(settings)

        async def stored() -> bool:
            status = await _storage_status(settings)
            return bool(status.agg_trades_written == len(agg_trades) and status.klines_written == 3)

        await eventually(stored)
        await eventually(lambda: _storage_caught_up(nats_client, namespace))
        # A second replay of the same file: JetStream and the keys both keep it out.
        await _replay_once(settings)
        await eventually(lambda: _storage_caught_up(nats_client, namespace))
        status = await _storage_status(settings)
    assert (status.agg_trades_written, status.klines_written) == (len(agg_trades), 3)
    assert status.events_dead_lettered == 0

    rows = await _fetch(database_url, "SELECT * FROM agg_trades")
    assert len(rows) == len(agg_trades)
    for row in rows:
        payload = agg_trades[(row["symbol"], row["agg_id"])]
        assert row["venue"] == "binance"
        assert (row["price"], row["quantity"]) == (Decimal(payload["p"]), Decimal(payload["q"]))
        assert (row["first_trade_id"], row["last_trade_id"]) == (payload["f"], payload["l"])
    klines = await _fetch(database_url, "SELECT * FROM klines ORDER BY symbol")
    expected = sorted(final, key=lambda k: k["s"])
    assert [(k["symbol"], k["interval"]) for k in klines] == [(k["s"], "1m") for k in expected]
    for row, k in zip(klines, expected, strict=True):
        assert int(row["open_time"].timestamp() * 1000) == k["t"]
        assert (row["open"], row["high"], row["low"], row["close"]) == tuple(
            Decimal(k[f]) for f in ("o", "h", "l", "c")
        )
        assert (row["volume"], row["trades"]) == (Decimal(k["v"]), k["n"])


async def test_live_streams_of_every_stored_kind_reach_their_tables(
    database_url: str, nats_url: str, namespace: str, nats_client: NatsClient
) -> None:
    # Trades and book tickers from the 2024 capture, aggTrades and klines from the 2021
    # one, tickers from the derived fixture: one tape, every kind the fake serves.
    tape = Tape(
        Tape.from_file(SAMPLE_CAPTURE).messages
        + Tape.from_file(KLINE_AGGTRADE_CAPTURE).messages
        + Tape.from_file(TICKER_CAPTURE).messages
    )
    books = _payloads(SAMPLE_CAPTURE, "@bookTicker")
    tickers = _payloads(TICKER_CAPTURE, "@ticker")
    async with FakeBinanceServer(tape) as fake:
        settings = service_settings(
            database_url,
            nats_url,
            namespace,
            binance_ws_url=fake.ws_url,
            symbols=("BTCUSDT", "BNBBTC"),
            streams=("trade", "aggTrade", "kline_1m", "bookTicker", "ticker", "miniTicker"),
        )
        async with (
            running(storage_service.run, settings, settings.storage_grpc_port),
            running(ingest_service.run, settings, settings.ingest_grpc_port),
        ):

            async def every_kind_stored() -> bool:
                status = await _storage_status(settings)
                return bool(
                    status.trades_written == 89
                    and status.agg_trades_written == 1_227
                    and status.klines_written == 1
                    and status.book_tickers_written > 0
                    and status.tickers_written == len(tickers)
                )

            await eventually(every_kind_stored)
            await eventually(lambda: _storage_caught_up(nats_client, namespace))
            assert "btcusdt@bookTicker" in fake.active_subscriptions()
            ingest = await _ingest_status(settings)
    assert ingest.messages_dead_lettered == 0
    [book] = await _fetch(database_url, "SELECT * FROM book_tickers")
    newest = max(books, key=lambda b: b["u"])
    assert (book["symbol"], book["update_id"]) == ("BTCUSDT", newest["u"])
    assert book["bid_price"] == Decimal(newest["b"])
    [ticker] = await _fetch(database_url, "SELECT * FROM tickers")
    assert (ticker["symbol"], ticker["last_price"]) == ("BNBBTC", Decimal(tickers[-1]["c"]))
    history = await _fetch(database_url, "SELECT count(*) AS n FROM ticker_history")
    assert history[0]["n"] == len(tickers)
    # The mini tickers reached the bus, and only the bus: storage keeps the full ticker.
    info = await nats_client.jetstream().stream_info(
        names.market_stream(namespace),
        subjects_filter=names.kind_filter_subject("miniticker", namespace=namespace),
    )
    assert info.state.subjects == {f"{namespace}.market.binance.miniticker.BNBBTC": 2}


async def test_storage_dead_letters_an_invalid_kline_and_stores_the_valid_kinds_beside_it(
    database_url: str, nats_url: str, namespace: str, nats_client: NatsClient
) -> None:
    klines = [
        verdict
        for recorded in read_recording(KLINE_AGGTRADE_CAPTURE)
        if isinstance(verdict := parse_message(recorded.text), Kline)
    ]
    final = next(k for k in klines if k.closed)
    in_progress = next(k for k in klines if not k.closed)
    upside_down = dataclasses.replace(final, symbol="ETHUSDT", high="1.00", low="2.00")
    js, publisher = await trade_publisher(nats_client, namespace)
    # Not through the publisher: ingest would never send this; another writer might.
    await js.publish(upside_down.subject(namespace), encode_event(upside_down))
    await js.publish(in_progress.subject(namespace), b"\xff\x00 not a kline")
    await publisher.publish(in_progress)
    await publisher.publish(final)
    await publisher.flush()
    settings = service_settings(database_url, nats_url, namespace)
    async with running(storage_service.run, settings, settings.storage_grpc_port):
        await eventually(lambda: _storage_caught_up(nats_client, namespace))
        status = await _storage_status(settings)
    assert (status.klines_written, status.events_dead_lettered) == (1, 2)
    rows = await _fetch(database_url, "SELECT symbol, open_time FROM klines")
    assert [(r["symbol"], int(r["open_time"].timestamp() * 1000)) for r in rows] == [
        (final.symbol, final.open_time_ms)
    ]
    dead = await js.subscribe(
        names.deadletter_subject("storage", namespace),
        stream=names.deadletter_stream(namespace),
        ordered_consumer=True,
    )
    reasons = [(await dead.next_msg(timeout=10)).headers[REASON_HEADER] for _ in range(2)]
    assert "high: high 1.00 is below low 2.00" in reasons[0]
    assert "kline_1m" in reasons[0] and "Kline" in reasons[1]
