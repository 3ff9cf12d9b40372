"""Tests for tests/fakes/binance_server.py over loopback with a real websockets client."""

from __future__ import annotations

import asyncio
import gzip
import json
import re
import time
from pathlib import Path

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.client import ClientProtocol
from websockets.exceptions import ConnectionClosed, ConnectionClosedError, InvalidStatus
from websockets.protocol import State
from websockets.uri import parse_uri

from tests.fakes.binance_server import FakeBinanceServer, Tape

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "binance"
HFT_FILE = FIXTURES / "binance_spot_btcusdt_2024-08-08.hftbacktest.gz"
SAMPLE_FILE = FIXTURES / "binance_spot_btcusdt_2024-08-08.sample.jsonl"
KLINE_AGG_FILE = FIXTURES / "binance_spot_ws_2021-04-04_kline_aggtrade.jsonl"

TRADE = "btcusdt@trade"
QUIET = 0.3  # seconds to wait when asserting that nothing arrives


@pytest.fixture(scope="module")
def hft_tape() -> Tape:
    return Tape.from_file(HFT_FILE)


@pytest.fixture(scope="module")
def sample_tape() -> Tape:
    return Tape.from_file(SAMPLE_FILE)


def empty_tape() -> Tape:
    return Tape.from_messages([])


async def request(ws: ClientConnection, payload: object) -> dict[str, object]:
    await ws.send(payload if isinstance(payload, str) else json.dumps(payload))
    reply = json.loads(await asyncio.wait_for(ws.recv(), 2))
    assert isinstance(reply, dict)
    return reply


async def assert_silent(ws: ClientConnection) -> None:
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(ws.recv(), QUIET)


async def recv_until_closed(ws: ClientConnection) -> list[str]:
    received: list[str] = []
    with pytest.raises(ConnectionClosed):
        while True:
            received.append(str(await asyncio.wait_for(ws.recv(), 5)))
    return received


# Tape loader


def test_tape_from_hftbacktest_file_keeps_9757_trades_and_skips_rest_snapshot(
    hft_tape: Tape,
) -> None:
    streams = [m.stream for m in hft_tape.messages]
    assert streams.count(TRADE) == 9_757
    assert streams.count("btcusdt@bookTicker") == 28_040
    assert streams.count("btcusdt@depth@100ms") == 3_451
    assert len(hft_tape) == 41_249 - 1  # the REST depth snapshot line is skipped
    assert not any('"lastUpdateId"' in m.data for m in hft_tape.messages)
    assert all(m.receive_ns is not None for m in hft_tape.messages)


def test_tape_from_2021_jsonl_file_yields_1227_btcusdt_aggtrades_with_event_times() -> None:
    tape = Tape.from_file(KLINE_AGG_FILE)
    agg_trades = [m for m in tape.messages if m.stream == "btcusdt@aggTrade"]
    assert len(agg_trades) == 1_227
    assert len(tape) == 2_028
    assert all(m.event_time_ms is not None and m.receive_ns is None for m in agg_trades)


def test_tape_from_jsonl_file_keeps_payload_text_verbatim(sample_tape: Tape) -> None:
    lines = SAMPLE_FILE.read_text(encoding="utf-8").splitlines()
    rebuilt = ['{"stream":"' + m.stream + '","data":' + m.data + "}" for m in sample_tape.messages]
    assert rebuilt == lines


# URL forms and wrapping


async def test_combined_stream_url_sends_envelope_identical_to_captured_line(
    sample_tape: Tape,
) -> None:
    first_trade_line = next(
        line
        for line in SAMPLE_FILE.read_text().splitlines()
        if line.startswith(f'{{"stream":"{TRADE}"')
    )
    async with FakeBinanceServer(sample_tape) as fake:
        async with connect(f"{fake.ws_url}/stream?streams={TRADE}") as ws:
            assert await asyncio.wait_for(ws.recv(), 2) == first_trade_line


async def test_raw_stream_url_sends_bare_payload(sample_tape: Tape) -> None:
    first_trade = next(m for m in sample_tape.messages if m.stream == TRADE)
    async with FakeBinanceServer(sample_tape) as fake:
        async with connect(f"{fake.ws_url}/ws/{TRADE}") as ws:
            assert await asyncio.wait_for(ws.recv(), 2) == first_trade.data


async def test_set_property_combined_true_on_raw_connection_wraps_later_messages(
    sample_tape: Tape,
) -> None:
    first_trade = next(m for m in sample_tape.messages if m.stream == TRADE)
    async with FakeBinanceServer(sample_tape) as fake:
        async with connect(f"{fake.ws_url}/ws") as ws:
            get = {"method": "GET_PROPERTY", "params": ["combined"], "id": 1}
            assert await request(ws, get) == {"result": False, "id": 1}
            set_ = {"method": "SET_PROPERTY", "params": ["combined", True], "id": 2}
            assert await request(ws, set_) == {"result": None, "id": 2}
            assert await request(ws, {**get, "id": 3}) == {"result": True, "id": 3}
            await ws.send(json.dumps({"method": "SUBSCRIBE", "params": [TRADE], "id": 4}))
            assert await ws.recv() == '{"result":null,"id":4}'
            envelope = json.loads(await asyncio.wait_for(ws.recv(), 2))
            assert envelope == {"stream": TRADE, "data": json.loads(first_trade.data)}


async def test_unknown_path_is_rejected_with_http_404() -> None:
    async with FakeBinanceServer(empty_tape()) as fake:
        with pytest.raises(InvalidStatus) as rejected:
            async with connect(f"{fake.ws_url}/api/v3/depth"):
                pass
    assert rejected.value.response.status_code == 404


@pytest.mark.parametrize("path", ["/ws/BTCUSDT@trade", "/stream?streams=btcusdt@trade/btcusdt"])
async def test_malformed_stream_name_in_url_is_rejected_with_http_400(path: str) -> None:
    async with FakeBinanceServer(empty_tape()) as fake:
        with pytest.raises(InvalidStatus) as rejected:
            async with connect(fake.ws_url + path):
                pass
    assert rejected.value.response.status_code == 400


async def test_time_unit_microsecond_query_is_accepted_and_payload_unchanged(
    sample_tape: Tape,
) -> None:
    first_trade = next(m for m in sample_tape.messages if m.stream == TRADE)
    async with FakeBinanceServer(sample_tape) as fake:
        async with connect(f"{fake.ws_url}/ws/{TRADE}?timeUnit=MICROSECOND") as ws:
            assert await asyncio.wait_for(ws.recv(), 2) == first_trade.data


# Byte-faithful replay of the real capture


async def test_replay_of_hftbacktest_trades_at_full_speed_is_byte_identical_to_capture(
    hft_tape: Tape,
) -> None:
    expected: list[str] = []
    prefix = f'{{"stream":"{TRADE}","data":'
    with gzip.open(HFT_FILE, "rt", encoding="utf-8") as lines:
        for line in lines:
            message = line.rstrip("\n").split(" ", 1)[1]
            if message.startswith(prefix):
                expected.append(message[len(prefix) : -1])
    assert len(expected) == 9_757

    async with FakeBinanceServer(hft_tape) as fake:
        async with connect(f"{fake.ws_url}/ws/{TRADE}", max_queue=None) as ws:
            received = [await asyncio.wait_for(ws.recv(), 5) for _ in expected]
            await assert_silent(ws)  # tape ended: nothing more ...
            reply = await request(ws, {"method": "LIST_SUBSCRIPTIONS", "id": 1})
            assert reply == {"result": [TRADE], "id": 1}  # ... and the connection stays open
        assert fake.messages_sent == 9_757
    assert received == expected


# Control messages


async def test_subscribe_unsubscribe_and_list_subscriptions_reply_like_binance() -> None:
    async with FakeBinanceServer(empty_tape()) as fake:
        async with connect(f"{fake.ws_url}/ws") as ws:
            subscribe = {"method": "SUBSCRIBE", "params": ["btcusdt@aggTrade", "btcusdt@depth"]}
            await ws.send(json.dumps({**subscribe, "id": 1}))
            assert await ws.recv() == '{"result":null,"id":1}'
            listed = await request(ws, {"method": "LIST_SUBSCRIPTIONS", "id": 3})
            assert listed == {"result": ["btcusdt@aggTrade", "btcusdt@depth"], "id": 3}
            assert fake.active_subscriptions() == {"btcusdt@aggTrade", "btcusdt@depth"}
            unsubscribe = {"method": "UNSUBSCRIBE", "params": ["btcusdt@depth"], "id": 312}
            assert await request(ws, unsubscribe) == {"result": None, "id": 312}
            listed = await request(ws, {"method": "LIST_SUBSCRIPTIONS", "id": "abc"})
            assert listed == {"result": ["btcusdt@aggTrade"], "id": "abc"}


async def test_subscribe_to_unknown_symbol_succeeds_and_emits_nothing(sample_tape: Tape) -> None:
    async with FakeBinanceServer(sample_tape) as fake:
        async with connect(f"{fake.ws_url}/ws") as ws:
            reply = await request(
                ws, {"method": "SUBSCRIBE", "params": ["nosuchcoin@trade"], "id": 1}
            )
            assert reply == {"result": None, "id": 1}
            await assert_silent(ws)


@pytest.mark.parametrize("stream", ["btcusdt@nonsense", "BTCUSDT@trade", "btcusdt", 42])
async def test_subscribe_with_malformed_stream_name_returns_code_2_invalid_stream(
    stream: object,
) -> None:
    async with FakeBinanceServer(empty_tape()) as fake:
        async with connect(f"{fake.ws_url}/ws") as ws:
            await ws.send(json.dumps({"method": "SUBSCRIBE", "params": [stream], "id": 2}))
            assert await ws.recv() == (
                '{"error":{"code":2,"msg":"Invalid request: invalid stream"},"id":2}'
            )
            assert fake.active_subscriptions() == set()


async def test_malformed_json_returns_code_3_invalid_json_with_null_id() -> None:
    async with FakeBinanceServer(empty_tape()) as fake:
        async with connect(f"{fake.ws_url}/ws") as ws:
            reply = await request(ws, '{"method": "SUBSCRIBE", ')
            assert reply["id"] is None
            error = reply["error"]
            assert isinstance(error, dict)
            assert error["code"] == 3
            assert str(error["msg"]).startswith("Invalid JSON: expected value at line 1 column")


async def test_unknown_method_returns_code_2_unknown_variant() -> None:
    async with FakeBinanceServer(empty_tape()) as fake:
        async with connect(f"{fake.ws_url}/ws") as ws:
            reply = await request(ws, {"method": "SUBSCRIBE_ALL", "id": 9})
            assert reply["id"] == 9
            assert reply["error"] == {
                "code": 2,
                "msg": "Invalid request: unknown variant `SUBSCRIBE_ALL`, expected one of "
                "`SUBSCRIBE`, `UNSUBSCRIBE`, `LIST_SUBSCRIPTIONS`, `SET_PROPERTY`, `GET_PROPERTY`",
            }


@pytest.mark.parametrize(
    ("message", "code", "msg"),
    [
        ({"method": "GET_PROPERTY", "params": ["colour"], "id": 5}, 0, "Unknown property"),
        (
            {"method": "SET_PROPERTY", "params": ["combined", "yes"], "id": 5},
            1,
            "Invalid value type: expected Boolean",
        ),
        (
            {"method": "GET_PROPERTY", "params": [7], "id": 5},
            2,
            "Invalid request: property name must be a string",
        ),
        (
            {"method": "SET_PROPERTY", "params": ["combined", True, 1], "id": 5},
            2,
            "Invalid request: too many parameters",
        ),
    ],
)
async def test_malformed_property_request_returns_documented_error(
    message: dict[str, object], code: int, msg: str
) -> None:
    async with FakeBinanceServer(empty_tape()) as fake:
        async with connect(f"{fake.ws_url}/ws") as ws:
            assert await request(ws, message) == {"error": {"code": code, "msg": msg}, "id": 5}


@pytest.mark.parametrize("request_id", [True, 1.5, "has space", "x" * 37, "missing"])
async def test_request_with_unsupported_id_returns_code_2_with_null_id(request_id: object) -> None:
    message: dict[str, object] = {"method": "LIST_SUBSCRIPTIONS"}
    if request_id != "missing":
        message["id"] = request_id
    async with FakeBinanceServer(empty_tape()) as fake:
        async with connect(f"{fake.ws_url}/ws") as ws:
            assert await request(ws, message) == {
                "error": {
                    "code": 2,
                    "msg": "Invalid request: request ID must be an unsigned integer",
                },
                "id": None,
            }


async def test_subscribing_beyond_1024_streams_returns_code_4_too_many_subscriptions() -> None:
    names = [f"sym{i}usdt@trade" for i in range(1025)]
    async with FakeBinanceServer(empty_tape()) as fake:
        async with connect(f"{fake.ws_url}/ws") as ws:
            reply = await request(ws, {"method": "SUBSCRIBE", "params": names[:1024], "id": 1})
            assert reply == {"result": None, "id": 1}
            await ws.send(json.dumps({"method": "SUBSCRIBE", "params": names[1024:], "id": 19}))
            assert await ws.recv() == '{"error":{"code":4,"msg":"Too many subscriptions"},"id":19}'
            assert len(fake.active_subscriptions()) == 1024


# Rate limit and keepalive


async def test_sixth_control_message_within_one_second_closes_with_1008_too_many_requests() -> None:
    async with FakeBinanceServer(empty_tape()) as fake:
        async with connect(f"{fake.ws_url}/ws") as ws:
            for i in range(5):
                reply = await request(ws, {"method": "LIST_SUBSCRIPTIONS", "id": i})
                assert reply == {"result": [], "id": i}
            await ws.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 5}))
            assert await recv_until_closed(ws) == []  # the sixth gets no reply
            assert ws.close_code == 1008
            assert ws.close_reason == "Too many requests"


async def test_sixth_ping_frame_within_one_second_closes_with_1008() -> None:
    async with FakeBinanceServer(empty_tape()) as fake:
        async with connect(f"{fake.ws_url}/ws", ping_interval=None) as ws:
            for _ in range(6):
                await ws.ping()
            with pytest.raises(ConnectionClosedError):
                await asyncio.wait_for(ws.recv(), 2)
            assert ws.close_code == 1008


async def test_five_messages_per_second_paced_over_two_windows_keeps_connection_open() -> None:
    async with FakeBinanceServer(empty_tape()) as fake:
        async with connect(f"{fake.ws_url}/ws", ping_interval=None) as ws:
            for burst in range(2):
                for i in range(5):
                    reply = await request(ws, {"method": "LIST_SUBSCRIPTIONS", "id": i})
                    assert reply == {"result": [], "id": i}
                if burst == 0:
                    await asyncio.sleep(1.05)
            assert ws.state is State.OPEN


async def test_client_answering_server_pings_stays_connected_past_ping_timeout() -> None:
    async with FakeBinanceServer(empty_tape(), ping_interval=0.3, ping_timeout=0.6) as fake:
        # The websockets client answers pings automatically; its own pings are disabled.
        # A client that did not would be closed 0.9 s in (first ping + timeout), well
        # before the end of the wait; the timeout leaves a loaded machine room to answer.
        async with connect(f"{fake.ws_url}/ws", ping_interval=None) as ws:
            await asyncio.sleep(1.5)  # several ping/pong rounds
            assert ws.state is State.OPEN
            assert await request(ws, {"method": "LIST_SUBSCRIPTIONS", "id": 1}) == {
                "result": [],
                "id": 1,
            }


async def test_client_that_never_answers_pings_is_closed_with_1011_after_ping_timeout() -> None:
    async with FakeBinanceServer(empty_tape(), ping_interval=0.2, ping_timeout=0.3) as fake:
        # A sans-I/O websockets client whose outgoing bytes (its pongs) are never written.
        protocol = ClientProtocol(parse_uri(f"{fake.ws_url}/ws"))
        protocol.send_request(protocol.connect())
        host, port = fake.ws_url.removeprefix("ws://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.writelines(protocol.data_to_send())
        try:
            async with asyncio.timeout(5):
                while data := await reader.read(65536):
                    protocol.receive_data(data)
                    protocol.data_to_send()  # discard automatic pongs
        finally:
            writer.close()
    assert protocol.close_rcvd is not None
    assert protocol.close_rcvd.code == 1011


# Fault injection and counters


async def test_max_messages_per_connection_closes_after_exactly_n_messages(
    sample_tape: Tape,
) -> None:
    async with FakeBinanceServer(sample_tape, max_messages_per_connection=10) as fake:
        async with connect(f"{fake.ws_url}/ws/{TRADE}") as ws:
            received = await recv_until_closed(ws)
            assert ws.close_code == 1001
        assert len(received) == 10
        assert fake.messages_sent == 10


async def test_disconnect_all_closes_open_connections_with_1001_and_clients_can_reconnect() -> None:
    async with FakeBinanceServer(empty_tape()) as fake:
        async with connect(f"{fake.ws_url}/ws/btcusdt@trade") as ws:
            await fake.disconnect_all()
            await recv_until_closed(ws)
            assert ws.close_code == 1001
        async with connect(f"{fake.ws_url}/ws/btcusdt@trade") as ws:
            assert fake.active_subscriptions() == {TRADE}
        assert fake.connections_total == 2


async def test_disconnect_all_abrupt_drops_tcp_without_close_frame() -> None:
    async with FakeBinanceServer(empty_tape()) as fake:
        async with connect(f"{fake.ws_url}/ws") as ws:
            await fake.disconnect_all(abrupt=True)
            await recv_until_closed(ws)
            assert ws.close_code == 1006


async def test_server_shutdown_event_is_sent_bare_on_raw_and_wrapped_on_combined() -> None:
    async with FakeBinanceServer(empty_tape()) as fake:
        async with (
            connect(f"{fake.ws_url}/ws") as raw,
            connect(f"{fake.ws_url}/stream?streams={TRADE}") as combined,
        ):
            await fake.send_server_shutdown()
            bare = str(await asyncio.wait_for(raw.recv(), 2))
            wrapped = await asyncio.wait_for(combined.recv(), 2)
    assert re.fullmatch(r'\{"e":"serverShutdown","E":\d{13}\}', bare)
    assert wrapped == '{"stream":"!serverShutdown","data":' + bare + "}"


async def test_loop_tape_restarts_replay_from_the_beginning() -> None:
    tape = Tape.from_messages([(TRADE, '{"t":1}'), ("ethusdt@trade", '{"t":9}'), (TRADE, "{oops")])
    async with FakeBinanceServer(tape, loop_tape=True) as fake:
        async with connect(f"{fake.ws_url}/ws/{TRADE}") as ws:
            received = [await asyncio.wait_for(ws.recv(), 2) for _ in range(5)]
    assert received == ['{"t":1}', "{oops", '{"t":1}', "{oops", '{"t":1}']


async def test_paced_replay_at_speed_4_takes_at_least_half_the_recorded_span_over_4(
    sample_tape: Tape,
) -> None:
    speed = 4.0
    clocks = [m.clock_ns for m in sample_tape.messages]
    origin = min(ns for ns in clocks if ns is not None)
    last_trade = max(m.clock_ns or 0 for m in sample_tape.messages if m.stream == TRADE)
    expected_s = (last_trade - origin) / 1e9 / speed
    trades = sum(m.stream == TRADE for m in sample_tape.messages)
    async with FakeBinanceServer(sample_tape, speed=speed) as fake:
        started = time.monotonic()
        async with connect(f"{fake.ws_url}/ws/{TRADE}") as ws:
            for _ in range(trades):
                await asyncio.wait_for(ws.recv(), 5)
        elapsed = time.monotonic() - started
    assert expected_s > 0.5
    assert elapsed >= 0.5 * expected_s
