"""The ingest service in-process against the fake Binance server and a real JetStream."""

from __future__ import annotations

import json
from pathlib import Path

import grpc
import pytest
from nats.aio.client import Client as NatsClient

from quantflow.market.v1 import ingest_service_pb2 as pb
from quantflow.market.v1 import ingest_service_pb2_grpc
from services.common import names
from services.common.deadletter import (
    MAX_DEADLETTER_BYTES,
    ORIGINAL_SIZE_HEADER,
    REASON_HEADER,
    SOURCE_HEADER,
)
from services.ingest import service as ingest_service
from services.ingest.recordings import read_recording
from tests.conftest import HFT_CAPTURE, SAMPLE_CAPTURE
from tests.fakes.binance_server import FakeBinanceServer, Tape
from tests.integration.helpers import (
    batch_msg_id,
    bus_events,
    bus_messages,
    eventually,
    running,
    service_settings,
)

pytestmark = pytest.mark.integration

GOOD_TRADE = (
    '{"e":"trade","E":1723161255210,"s":"BTCUSDT","t":3735676000,"p":"61700.00000000",'
    '"q":"0.01000000","T":1723161255209,"m":false,"M":true}'
)


async def _status(target: str) -> pb.GetIngestStatusResponse:
    async with grpc.aio.insecure_channel(target) as channel:
        stub = ingest_service_pb2_grpc.IngestServiceStub(channel)
        return await stub.GetIngestStatus(pb.GetIngestStatusRequest(), timeout=5)


def _trade_ids(path: object) -> set[int]:
    ids = set()
    for recorded in read_recording(path):  # type: ignore[arg-type]
        message = json.loads(recorded.text)
        if message.get("stream", "").endswith("@trade"):
            ids.add(message["data"]["t"])
    return ids


async def test_live_trades_reach_jetstream_with_exchange_ids_as_msg_ids(
    database_url: str, nats_url: str, namespace: str, nats_client: NatsClient
) -> None:
    expected = _trade_ids(SAMPLE_CAPTURE)
    async with FakeBinanceServer(Tape.from_file(SAMPLE_CAPTURE)) as fake:
        settings = service_settings(
            database_url,
            nats_url,
            namespace,
            binance_ws_url=fake.ws_url,
            symbols=("BTCUSDT", "ETHUSDT"),
        )
        target = f"127.0.0.1:{settings.ingest_grpc_port}"
        async with running(ingest_service.run, settings, settings.ingest_grpc_port):

            async def all_published() -> bool:
                return bool((await _status(target)).events_published >= len(expected))

            await eventually(all_published)
            status = await _status(target)
            # QUANTFLOW_STREAMS' default: trade, aggTrade and 1-minute klines of each symbol.
            assert fake.active_subscriptions() == {
                f"{symbol}@{stream}"
                for symbol in ("btcusdt", "ethusdt")
                for stream in ("trade", "aggTrade", "kline_1m")
            }
    assert status.connected and not status.source_finished
    assert status.source == "binance"
    assert list(status.symbols) == ["BTCUSDT", "ETHUSDT"]
    assert status.messages_dead_lettered == 0
    js = nats_client.jetstream()
    received = set()
    subject = names.trade_subject("BTCUSDT", namespace=namespace)
    for msg_id, events in await bus_messages(js, namespace, subject):
        # One trade's own id, or a batch's run: binance:BTCUSDT:trade:<first>-<last>.
        assert msg_id == batch_msg_id(events)
        assert msg_id.startswith("binance:BTCUSDT:trade:")
        received |= {event.sequence()[1] for event in events}
    assert received == expected


async def test_malformed_messages_are_dead_lettered_and_ingest_keeps_running(
    database_url: str, nats_url: str, namespace: str, nats_client: NatsClient
) -> None:
    broken = [
        "{not json",
        '{"e":"trade","E":1723161255210,"s":"BTCUSDT","t":1,"p":"abc","q":"1","T":1,"m":true}',
        '{"e":"trade","E":1723161255210,"s":"BTCUSDT","t":2,"p":"-5","q":"1","T":1,"m":true}',
        '{"e":"trade","E":1723161255210,"s":"BTCUSDT","t":3,"q":"1","T":1,"m":true}',
    ]
    # The fake sends tape data verbatim inside the envelope, broken JSON included.
    tape = Tape.from_messages([("btcusdt@trade", text) for text in [*broken, GOOD_TRADE]])
    async with FakeBinanceServer(tape) as fake:
        settings = service_settings(
            database_url, nats_url, namespace, binance_ws_url=fake.ws_url, symbols=("BTCUSDT",)
        )
        target = f"127.0.0.1:{settings.ingest_grpc_port}"
        async with running(ingest_service.run, settings, settings.ingest_grpc_port):

            async def good_one_published() -> bool:
                return bool((await _status(target)).events_published == 1)

            await eventually(good_one_published)
            status = await _status(target)
    assert status.messages_dead_lettered == len(broken)
    assert status.messages_received == len(broken) + 1
    js = nats_client.jetstream()
    dead = await js.subscribe(
        names.deadletter_subject("binance", namespace),
        stream=names.deadletter_stream(namespace),
        ordered_consumer=True,
    )
    reasons = []
    for text in broken:
        letter = await dead.next_msg(timeout=5)
        assert text in letter.data.decode()  # the raw message, envelope and all
        assert letter.headers[SOURCE_HEADER] == "binance"
        reasons.append(letter.headers[REASON_HEADER])
    assert "invalid JSON" in reasons[0]
    assert "p:" in reasons[1] and "decimal" in reasons[1]
    assert "greater than zero" in reasons[2] or "decimal" in reasons[2]
    assert "p:" in reasons[3] and "required" in reasons[3].lower()


async def test_dropped_connection_reconnects_and_overlap_is_deduplicated(
    database_url: str, nats_url: str, namespace: str, nats_client: NatsClient
) -> None:
    expected = _trade_ids(SAMPLE_CAPTURE)
    # Each connection replays the tape from the start, so the second one overlaps the first.
    async with FakeBinanceServer(
        Tape.from_file(SAMPLE_CAPTURE), max_messages_per_connection=40
    ) as fake:
        settings = service_settings(
            database_url, nats_url, namespace, binance_ws_url=fake.ws_url, symbols=("BTCUSDT",)
        )
        target = f"127.0.0.1:{settings.ingest_grpc_port}"
        async with running(ingest_service.run, settings, settings.ingest_grpc_port):

            async def reconnected_twice() -> bool:
                return bool((await _status(target)).connections_opened >= 3)

            await eventually(reconnected_twice)
    js = nats_client.jetstream()
    ids = [
        event.sequence()[1]
        for event in await bus_events(
            js, namespace, names.trade_subject("BTCUSDT", namespace=namespace)
        )
    ]
    assert len(ids) == len(set(ids))
    assert set(ids) <= expected


async def test_replay_source_reads_the_whole_capture_then_reports_finished(
    database_url: str, nats_url: str, namespace: str, nats_client: NatsClient
) -> None:
    settings = service_settings(database_url, nats_url, namespace, source=f"replay:{HFT_CAPTURE}")
    target = f"127.0.0.1:{settings.ingest_grpc_port}"
    async with running(ingest_service.run, settings, settings.ingest_grpc_port):

        async def finished() -> bool:
            return bool((await _status(target)).source_finished)

        await eventually(finished, timeout=60)
        status = await _status(target)
    # SOURCES.md: 9,757 trades and 28,040 book tickers; the depth messages are skipped.
    assert len(_trade_ids(HFT_CAPTURE)) == 9757
    assert status.events_published == 9757 + 28_040
    assert status.messages_skipped == status.messages_received - 9757 - 28_040 == 3_452
    assert len(await bus_events(nats_client.jetstream(), namespace)) == 9757 + 28_040


def _trade_line(trade_id: int, stream: str = "btcusdt@trade", **changes: object) -> str:
    data: dict[str, object] = {
        "e": "trade",
        "E": 1723161255210,
        "s": "BTCUSDT",
        "t": trade_id,
        "p": "61700.00000000",
        "q": "0.01000000",
        "T": 1723161255209,
        "m": False,
        "M": True,
    }
    data.update(changes)
    return json.dumps({"stream": stream, "data": data}, separators=(",", ":"))


# Each bad case of the bad-input corpus, with a fragment of the reason it must carry.
BAD_LINES = {
    "time-in-ns": (_trade_line(101, T=1723161255209 * 1_000_000), "T: "),
    "time-15-digits": (_trade_line(102, T=172316125520912), "T: "),
    "time-1970": (_trade_line(103, T=1), "T: "),
    "time-2286": (_trade_line(104, T=9_999_999_999_999), "T: "),
    "tiny-quantity": (_trade_line(105, q="0." + "0" * 17_000 + "1"), "fraction digits"),
    "abc": (_trade_line(106, p="abc"), "not a decimal"),
    "minus-one": (_trade_line(107, p="-1"), "not a decimal"),
    "nan": (_trade_line(108, p="NaN"), "not a decimal"),
    "1000-nines": (_trade_line(109, p="9" * 1000), "1000 integer digits"),
    "200000-digits": (_trade_line(110, p="1" * 200_000), "bytes exceeds"),
    "over-1-mb": (_trade_line(111, pad="x" * (1024 * 1024 + 1)), "bytes exceeds"),
    "id-beyond-int64": (_trade_line(2**63), "t: "),
    "symbol-not-the-streams": (_trade_line(112, stream="ethusdt@trade"), "carries a trade of"),
    "null-data": ('{"stream":"btcusdt@trade","data":null}', "null"),
}


async def test_replayed_bad_input_corpus_is_dead_lettered_and_good_trades_published(
    database_url: str, nats_url: str, namespace: str, nats_client: NatsClient, tmp_path: Path
) -> None:
    good = [_trade_line(trade_id) for trade_id in range(1, 8)]
    lines = [good[0], *(line for line, _ in BAD_LINES.values()), *good[1:]]
    corpus = tmp_path / "bad_input.jsonl"
    corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
    settings = service_settings(database_url, nats_url, namespace, source=f"replay:{corpus}")
    target = f"127.0.0.1:{settings.ingest_grpc_port}"
    async with running(ingest_service.run, settings, settings.ingest_grpc_port):

        async def finished() -> bool:
            return bool((await _status(target)).source_finished)

        await eventually(finished)
        status = await _status(target)
    assert status.events_published == len(good)
    assert status.messages_dead_lettered == len(BAD_LINES)
    js = nats_client.jetstream()
    assert len(await bus_events(js, namespace)) == len(good)
    dead = await js.subscribe(
        names.deadletter_subject("binance", namespace),
        stream=names.deadletter_stream(namespace),
        ordered_consumer=True,
    )
    for case, (line, fragment) in BAD_LINES.items():
        letter = await dead.next_msg(timeout=5)
        assert fragment in letter.headers[REASON_HEADER], case
        if len(line) > MAX_DEADLETTER_BYTES:
            assert letter.data == line.encode()[:MAX_DEADLETTER_BYTES], case
            assert letter.headers[ORIGINAL_SIZE_HEADER] == str(len(line.encode())), case
        else:
            assert letter.data == line.encode(), case
