"""A local fake of the Binance Spot market-data WebSocket server, replaying recorded messages.

A client connects to ``FakeBinanceServer.ws_url`` exactly as it would to
``wss://stream.binance.com:9443``. The wire facts follow ``binance-ws-spec.md`` sections 1-5:

* ``/ws/<stream>`` sends bare payloads and ``/ws`` starts with no streams; both have
  ``combined=false``. ``/stream?streams=a/b`` wraps each payload as
  ``{"stream":"<name>","data":<payload>}`` and has ``combined=true``. Any other path gets HTTP 404.
  A malformed stream name, or more than ``max_streams`` names in the URL, gets HTTP 400. The spec
  does not document what Binance does in that case, so this reply is the fake's own choice.
* ``timeUnit`` is accepted and ignored. Payloads are replayed verbatim in the unit of the tape:
  milliseconds for the bundled captures.
* Control messages (SUBSCRIBE, UNSUBSCRIBE, LIST_SUBSCRIPTIONS, SET_PROPERTY, GET_PROPERTY) get
  compact replies: ``{"result":null,"id":1}``. Errors use the observed wire shape
  ``{"error":{"code":2,"msg":"..."},"id":1}``. Where Binance's message includes a serde
  position (``at line 1 column N``), the fake's message leaves it out, except for invalid JSON.
* A well-formed stream name for a symbol that is not on the tape subscribes and never emits.
* More than ``max_incoming_per_second`` incoming frames in any rolling second fails the
  connection with close code 1008 "Too many requests". Text, binary, ping and pong frames are
  counted.
* The server pings every ``ping_interval`` seconds and fails the connection with 1011 if the
  pong takes longer than ``ping_timeout``. This uses websockets' own keepalive.
* No permessage-deflate is negotiated. The spec documents no compression.

Replay: each connection has its own sender task. The task waits for the connection's first
subscription, then walks the tape from the start. It sends every message whose stream the
connection is subscribed to at that moment, wrapped or bare according to the live ``combined``
property. With ``speed=0`` messages go out as fast as possible. Otherwise the sender waits until
each message's recorded offset from the start of the tape, divided by ``speed``. The offset
comes from ``receive_ns`` if the message has it, otherwise from ``event_time_ms``. A message
with neither goes out without delay. At the end of the tape the sender stops and the connection
stays open, unless ``loop_tape=True``, in which case it starts again from the beginning. With
``speed=0``, subscribe to every stream in the URL or in one SUBSCRIBE: a stream added later
misses whatever was already sent, as it would live.

Live mode (``live_interval_s``): like the exchange, one timeline for every connection. From the
first connection on, one broadcaster walks the tape once, a message every ``live_interval_s``,
and sends it to every connection subscribed to its stream at that moment; a message no
connection wanted is lost, as it would be live. ``live_sent`` lists what reached at least one.

Fault knobs for connection-management tests: :meth:`stall` stops the data of chosen streams on
the connections open now (pings still answered; new connections are not stalled), and every
counted client frame's arrival time is kept per connection (:meth:`client_frame_times`).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import deque
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from types import TracebackType
from typing import Self, cast
from urllib.parse import parse_qs, unquote, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode, Frame, Opcode
from websockets.http11 import Request, Response
from websockets.protocol import Event, State

from services.ingest.recordings import read_recording

_KLINE_INTERVALS = "1s|1m|3m|5m|15m|30m|1h|2h|4h|6h|8h|12h|1d|3d|1w|1M"
_STREAM_NAME = re.compile(
    r"[a-z0-9]+@(?:trade|aggTrade|bookTicker|miniTicker|ticker|ticker_(?:1h|4h|1d)"
    r"|avgPrice|referencePrice|blockTrade"
    rf"|kline_(?:{_KLINE_INTERVALS})(?:@\+08:00)?"
    r"|depth(?:5|10|20)?(?:@100ms)?)"
    r"|!miniTicker@arr|!ticker_(?:1h|4h|1d)@arr"
)
_METHODS = ("SUBSCRIBE", "UNSUBSCRIBE", "LIST_SUBSCRIPTIONS", "SET_PROPERTY", "GET_PROPERTY")
_COUNTED_OPCODES = frozenset({Opcode.TEXT, Opcode.BINARY, Opcode.PING, Opcode.PONG})
_ID_STRING = re.compile(r"[A-Za-z0-9]{1,36}")


def is_valid_stream_name(name: object) -> bool:
    """Return True for a well-formed Spot stream name: lowercase symbol, known stream kind."""
    return isinstance(name, str) and _STREAM_NAME.fullmatch(name) is not None


def _compact(obj: object) -> str:
    return json.dumps(obj, separators=(",", ":"))


class _RequestError(Exception):
    """A control request that Binance answers with ``{"error":{"code":..,"msg":..},"id":..}``."""

    def __init__(self, code: int, msg: str) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg


@dataclass(frozen=True, slots=True)
class TapeMessage:
    """One recorded message. ``data`` is the payload JSON text exactly as it was received."""

    stream: str
    data: str
    event_time_ms: int | None = None
    receive_ns: int | None = None

    @property
    def clock_ns(self) -> int | None:
        """The recorded time used for pacing: receive time, else event time, else None."""
        if self.receive_ns is not None:
            return self.receive_ns
        return None if self.event_time_ms is None else self.event_time_ms * 1_000_000


def _event_time_ms(payload: object) -> int | None:
    if isinstance(payload, dict):
        event_time = payload.get("E")
        if isinstance(event_time, int) and not isinstance(event_time, bool):
            return event_time
    return None


def _split_envelope(text: str) -> tuple[str, str, object] | None:
    """Split ``{"stream":..,"data":..}`` into (stream, verbatim data text, parsed data).

    Returns None for JSON without that envelope, such as a REST depth snapshot.
    """
    obj = json.loads(text)
    if not isinstance(obj, dict) or obj.keys() != {"stream", "data"}:
        return None
    prefix = '{"stream":' + json.dumps(obj["stream"]) + ',"data":'
    if not (text.startswith(prefix) and text.endswith("}")):
        raise ValueError("envelope is not in Binance's compact key order; cannot cut payload")
    return obj["stream"], text[len(prefix) : -1], obj["data"]


@dataclass(frozen=True, slots=True)
class Tape:
    """An ordered list of recorded messages, replayed to every connection."""

    messages: tuple[TapeMessage, ...]

    def __len__(self) -> int:
        return len(self.messages)

    @classmethod
    def from_file(cls, path: str | Path) -> Tape:
        """Load a capture and keep each ``data`` payload as its original text.

        The file is read by ingest's own recording reader, so the layouts are the ones
        ``--source replay:`` accepts. Lines without the ``stream``/``data`` envelope are
        skipped. In the hftbacktest capture this is the REST depth snapshot.
        """
        path = Path(path)
        messages: list[TapeMessage] = []
        for number, recorded in enumerate(read_recording(path), start=1):
            try:
                parts = _split_envelope(recorded.text)
            except ValueError as exc:
                raise ValueError(f"{path}: message {number}: {exc}") from exc
            if parts is not None:
                stream, data, payload = parts
                messages.append(
                    TapeMessage(stream, data, _event_time_ms(payload), recorded.received_ns)
                )
        return cls(tuple(messages))

    @classmethod
    def from_messages(cls, messages: Iterable[tuple[str, str]]) -> Tape:
        """Build a tape from (stream, data text) pairs. The data text may be invalid JSON."""
        built: list[TapeMessage] = []
        for stream, data in messages:
            try:
                event_time = _event_time_ms(json.loads(data))
            except ValueError:
                event_time = None
            built.append(TapeMessage(stream, data, event_time))
        return cls(tuple(built))


class _BinanceConnection(ServerConnection):
    """A server connection with Binance session state and an incoming-frame rate limit."""

    subscriptions: dict[str, None]  # insertion-ordered set, for LIST_SUBSCRIPTIONS
    combined: bool
    subscribed: asyncio.Event  # set whenever SUBSCRIBE adds streams
    max_incoming_per_second: int
    incoming_times: deque[float]
    messages_sent: int  # tape messages sent on this connection
    stalled: set[str]  # streams whose data this connection no longer sends
    frame_times: list[float]  # arrival of every counted client frame

    def process_event(self, event: Event) -> None:
        if isinstance(event, Frame) and event.opcode in _COUNTED_OPCODES:
            now = time.monotonic()
            self.frame_times.append(now)
            while self.incoming_times and now - self.incoming_times[0] >= 1.0:
                self.incoming_times.popleft()
            self.incoming_times.append(now)
            if len(self.incoming_times) > self.max_incoming_per_second:
                self.protocol.fail(CloseCode.POLICY_VIOLATION, "Too many requests")
                self.send_data()
                return
        super().process_event(event)


class FakeBinanceServer:
    """Serve a :class:`Tape` over the Binance Spot WebSocket protocol on 127.0.0.1."""

    def __init__(
        self,
        tape: Tape,
        *,
        speed: float = 0.0,
        ping_interval: float = 20.0,
        ping_timeout: float = 60.0,
        max_streams: int = 1024,
        max_incoming_per_second: int = 5,
        loop_tape: bool = False,
        max_messages_per_connection: int | None = None,
        withheld_trade_ids: range = range(0),
        withheld_agg_ids: range = range(0),
        withheld_kline_open_times: Collection[int] = (),
        live_interval_s: float | None = None,
    ) -> None:
        self.tape = tape
        self.speed = speed
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.max_streams = max_streams
        self.max_incoming_per_second = max_incoming_per_second
        self.loop_tape = loop_tape
        self.max_messages_per_connection = max_messages_per_connection
        # Trades (aggTrades, klines by open time) never sent, as if lost while disconnected:
        # reaching the first of them drops the connection once (no close frame), later
        # connections skip them all.
        self.withheld_trade_ids = withheld_trade_ids
        self.withheld_agg_ids = withheld_agg_ids
        self.withheld_kline_open_times = frozenset(withheld_kline_open_times)
        self.withheld_disconnects = 0
        self.connections_total = 0
        self.messages_sent = 0
        self.live_interval_s = live_interval_s
        self.live_sent: list[TapeMessage] = []
        self.live_finished = asyncio.Event()
        self._live: asyncio.Task[None] | None = None
        self._every_connection: list[_BinanceConnection] = []
        self._connections: set[_BinanceConnection] = set()
        self._server: Server | None = None
        offsets = [m.clock_ns for m in tape.messages]
        origin = min((ns for ns in offsets if ns is not None), default=0)
        self._offsets_s: list[float | None] = [
            None if ns is None else (ns - origin) / 1e9 for ns in offsets
        ]

    async def __aenter__(self) -> Self:
        self._server = await serve(
            self._handle,
            "127.0.0.1",
            0,
            process_request=self._process_request,
            create_connection=_BinanceConnection,
            ping_interval=self.ping_interval,
            ping_timeout=self.ping_timeout,
            compression=None,
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._live is not None:
            self._live.cancel()
            await asyncio.gather(self._live, return_exceptions=True)
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    @property
    def ws_url(self) -> str:
        """Base URL such as ``ws://127.0.0.1:54321``; append ``/ws/<stream>`` or ``/stream?..``."""
        if self._server is None:
            raise RuntimeError("FakeBinanceServer is not running; use `async with`")
        port = self._server.sockets[0].getsockname()[1]
        return f"ws://127.0.0.1:{port}"

    @property
    def open_connections(self) -> int:
        """Number of connections currently open."""
        return len(self._connections)

    def active_subscriptions(self) -> set[str]:
        """Union of the streams subscribed on all open connections."""
        return {stream for conn in self._connections for stream in conn.subscriptions}

    async def disconnect_all(self, *, abrupt: bool = False) -> None:
        """Drop every open connection: close code 1001, or a TCP abort with no close frame."""
        connections = list(self._connections)
        if abrupt:
            for conn in connections:
                conn.transport.abort()
        else:
            await asyncio.gather(*(conn.close(CloseCode.GOING_AWAY) for conn in connections))

    def stall(self, streams: Iterable[str]) -> None:
        """Stop sending ``streams`` on the connections open now; pings are still answered and
        connections opened later get the data again."""
        for conn in self._connections:
            conn.stalled.update(streams)

    def client_frame_times(self) -> list[list[float]]:
        """Per connection ever opened: the monotonic arrival time of each counted client frame
        (text, binary, ping, pong)."""
        return [list(conn.frame_times) for conn in self._every_connection]

    async def send_server_shutdown(self) -> None:
        """Send the ``serverShutdown`` event to every open connection, bare or combined."""
        payload = _compact({"e": "serverShutdown", "E": time.time_ns() // 1_000_000})
        for conn in list(self._connections):
            text = self._frame(conn, "!serverShutdown", payload)
            try:
                await conn.send(text)
            except ConnectionClosed:
                pass

    # Handshake

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        url = urlsplit(request.path)
        path = unquote(url.path)
        if path in ("/ws", "/ws/"):
            streams, combined = [], False
        elif path.startswith("/ws/") and "/" not in path[4:]:
            streams, combined = [path[4:]], False
        elif path == "/stream":
            names = parse_qs(url.query).get("streams", [""])[0]
            streams, combined = [s for s in names.split("/") if s], True
        else:
            return connection.respond(HTTPStatus.NOT_FOUND, "Not Found\n")
        if not all(is_valid_stream_name(s) for s in streams):
            return connection.respond(HTTPStatus.BAD_REQUEST, "Invalid stream name\n")
        if len(set(streams)) > self.max_streams:
            return connection.respond(HTTPStatus.BAD_REQUEST, "Too many subscriptions\n")
        conn = cast(_BinanceConnection, connection)
        conn.subscriptions = dict.fromkeys(streams)
        conn.combined = combined
        conn.subscribed = asyncio.Event()
        if streams:
            conn.subscribed.set()
        conn.max_incoming_per_second = self.max_incoming_per_second
        conn.incoming_times = deque()
        conn.messages_sent = 0
        conn.stalled = set()
        conn.frame_times = []
        self._every_connection.append(conn)
        return None

    # Connection

    async def _handle(self, connection: ServerConnection) -> None:
        conn = cast(_BinanceConnection, connection)
        self.connections_total += 1
        self._connections.add(conn)
        if self.live_interval_s is not None and self._live is None:
            self._live = asyncio.create_task(self._broadcast(self.live_interval_s))
        sender = asyncio.create_task(
            self._replay(conn) if self.live_interval_s is None else asyncio.sleep(0)
        )
        try:
            async for message in conn:
                text = message if isinstance(message, str) else message.decode("utf-8", "replace")
                await conn.send(self._control_reply(conn, text))
        except ConnectionClosed:
            pass
        finally:
            self._connections.discard(conn)
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)

    @staticmethod
    def _frame(conn: _BinanceConnection, stream: str, data: str) -> str:
        if conn.combined:
            return '{"stream":' + json.dumps(stream) + ',"data":' + data + "}"
        return data

    async def _replay(self, conn: _BinanceConnection) -> None:
        try:
            await conn.subscribed.wait()
            while conn.state is State.OPEN:
                conn.subscribed.clear()
                sent = await self._play_tape_once(conn)
                if not self.loop_tape:
                    return
                if sent == 0:
                    await conn.subscribed.wait()
        except ConnectionClosed:
            return

    async def _play_tape_once(self, conn: _BinanceConnection) -> int:
        """Send one pass of the tape; return how many messages were sent."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        sent = 0
        for message, offset in zip(self.tape.messages, self._offsets_s, strict=True):
            if message.stream not in conn.subscriptions:
                continue
            delay = 0.0
            if self.speed > 0 and offset is not None:
                delay = started + offset / self.speed - loop.time()
            await asyncio.sleep(max(delay, 0.0))  # also lets control messages interleave
            if message.stream not in conn.subscriptions or message.stream in conn.stalled:
                continue
            if self._withheld(message):
                if self.withheld_disconnects == 0:
                    self.withheld_disconnects += 1
                    conn.transport.abort()
                    break
                continue
            await conn.send(self._frame(conn, message.stream, message.data))
            sent += 1
            self.messages_sent += 1
            conn.messages_sent += 1
            limit = self.max_messages_per_connection
            if limit is not None and conn.messages_sent >= limit:
                await conn.close(CloseCode.GOING_AWAY, "message limit reached")
                break
        return sent

    def _withheld(self, message: TapeMessage) -> bool:
        kind = message.stream.partition("@")[2]
        if kind == "trade" and self.withheld_trade_ids:
            return json.loads(message.data).get("t") in self.withheld_trade_ids
        if kind == "aggTrade" and self.withheld_agg_ids:
            return json.loads(message.data).get("a") in self.withheld_agg_ids
        if kind.startswith("kline_") and self.withheld_kline_open_times:
            candle = json.loads(message.data).get("k")
            return isinstance(candle, dict) and candle.get("t") in self.withheld_kline_open_times
        return False

    async def _broadcast(self, interval_s: float) -> None:
        """Live mode: one pass over the tape, each message to whoever is subscribed now."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        for index, message in enumerate(self.tape.messages):
            await asyncio.sleep(max(0.0, started + index * interval_s - loop.time()))
            sent = False
            for conn in list(self._connections):
                if message.stream not in conn.subscriptions or message.stream in conn.stalled:
                    continue
                try:
                    await conn.send(self._frame(conn, message.stream, message.data))
                except ConnectionClosed:
                    continue
                sent = True
                self.messages_sent += 1
                conn.messages_sent += 1
            if sent:
                self.live_sent.append(message)
        self.live_finished.set()

    # Control messages

    def _control_reply(self, conn: _BinanceConnection, text: str) -> str:
        request_id: object = None
        try:
            try:
                request = json.loads(text)
            except json.JSONDecodeError as exc:
                raise _RequestError(
                    3, f"Invalid JSON: expected value at line {exc.lineno} column {exc.colno}"
                ) from exc
            if not isinstance(request, dict) or "method" not in request:
                raise _RequestError(2, "Invalid request: missing field `method`")
            if "id" not in request or not _is_valid_id(request["id"]):
                raise _RequestError(2, "Invalid request: request ID must be an unsigned integer")
            request_id = request["id"]
            method = request["method"]
            if method not in _METHODS:
                raise _RequestError(
                    2,
                    f"Invalid request: unknown variant `{method}`, expected one of "
                    + ", ".join(f"`{m}`" for m in _METHODS),
                )
            params = request.get("params", [])
            result = self._run_method(conn, method, params)
        except _RequestError as error:
            return _compact({"error": {"code": error.code, "msg": error.msg}, "id": request_id})
        return _compact({"result": result, "id": request_id})

    def _run_method(self, conn: _BinanceConnection, method: str, params: object) -> object:
        if method == "LIST_SUBSCRIPTIONS":
            return list(conn.subscriptions)
        if method in ("SUBSCRIBE", "UNSUBSCRIBE"):
            if not isinstance(params, list) or not all(map(is_valid_stream_name, params)):
                raise _RequestError(2, "Invalid request: invalid stream")
            if method == "UNSUBSCRIBE":
                for name in params:
                    conn.subscriptions.pop(name, None)
                return None
            if len(conn.subscriptions.keys() | set(params)) > self.max_streams:
                raise _RequestError(4, "Too many subscriptions")
            conn.subscriptions.update(dict.fromkeys(params))
            conn.subscribed.set()
            return None
        if not isinstance(params, list):
            params = []
        expected = 2 if method == "SET_PROPERTY" else 1
        if len(params) > expected:
            raise _RequestError(2, "Invalid request: too many parameters")
        if not params or not isinstance(params[0], str):
            raise _RequestError(2, "Invalid request: property name must be a string")
        if params[0] != "combined":
            raise _RequestError(0, "Unknown property")
        if method == "GET_PROPERTY":
            return conn.combined
        if len(params) < 2 or not isinstance(params[1], bool):
            raise _RequestError(1, "Invalid value type: expected Boolean")
        conn.combined = params[1]
        return None


def _is_valid_id(request_id: object) -> bool:
    """Binance accepts a signed 64-bit integer, an alphanumeric string of <= 36 chars, or null."""
    if isinstance(request_id, int) and not isinstance(request_id, bool):
        return -(2**63) <= request_id < 2**63
    if isinstance(request_id, str):
        return _ID_STRING.fullmatch(request_id) is not None
    return request_id is None
