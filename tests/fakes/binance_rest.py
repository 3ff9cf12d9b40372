"""A local fake of Binance Spot's REST market-data endpoints, serving real captured data.

Endpoints (binance-ws-spec.md §6-8): ``/api/v3/ping``, ``/time``, ``/exchangeInfo``,
``/trades``, ``/historicalTrades``, ``/aggTrades`` and ``/klines``, with Binance's query
parameters, limits (default 500, max 1000), error bodies (``{"code":-1121,"msg":"Invalid
symbol."}``) and the ``X-MBX-USED-WEIGHT-1M`` header on every answer.

Data: trades are the hftbacktest capture's WebSocket trades turned into REST's field names
(``t``→``id``, ``p``→``price``, ``q``→``qty``, ``T``→``time``, ``m``→``isBuyerMaker``,
``M``→``isBestMatch``, plus ``quoteQty`` = price × qty); aggTrades are the 2021 cryptofeed
capture's ``@aggTrade`` payloads without their event fields; klines are a data.binance.vision
CSV (tests/fixtures/binance/SOURCES.md).

Rate limits: weight per minute of the fake's ``clock`` over ``weight_limit`` gets 429 with
``Retry-After``; :meth:`FakeBinanceRest.fail_next` forces 429s or 418s. A request that comes
before a ``Retry-After`` has passed is answered 418 (a ban, as Binance escalates) and counted
in ``early_requests``, which a well-behaved client keeps at 0.
"""

from __future__ import annotations

import asyncio
import csv
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from services.ingest.recordings import read_recording
from tests.fakes.loopback import LoopbackServer

WEIGHTS = {
    "ping": 1,
    "time": 1,
    "exchangeInfo": 20,
    "trades": 25,
    "historicalTrades": 25,
    "aggTrades": 4,
    "klines": 2,
}
DEFAULT_STATUSES = {
    "BTCUSDT": "TRADING",
    "ETHUSDT": "TRADING",
    "DOTUSDT": "TRADING",
    "BNBBTC": "BREAK",
}
_INTERVALS = ("1s 1m 3m 5m 15m 30m 1h 2h 4h 6h 8h 12h 1d 3d 1w 1M").split()


def rest_trade(payload: dict[str, Any]) -> dict[str, Any]:
    """A WebSocket ``trade`` payload in ``/api/v3/historicalTrades``' shape (spec §7.3)."""
    quote = (Decimal(payload["p"]) * Decimal(payload["q"])).quantize(Decimal("0.00000001"))
    return {
        "id": payload["t"],
        "price": payload["p"],
        "qty": payload["q"],
        "quoteQty": f"{quote:f}",
        "time": payload["T"],
        "isBuyerMaker": payload["m"],
        "isBestMatch": payload.get("M", True),
    }


def _payloads(path: Path, kind: str) -> Iterable[dict[str, Any]]:
    for recorded in read_recording(path):
        message = json.loads(recorded.text)
        stream = message.get("stream", "") if isinstance(message, dict) else ""
        if stream.endswith(f"@{kind}"):
            yield message["data"]


def trades_from_capture(path: Path) -> dict[str, list[dict[str, Any]]]:
    """Each symbol's trades in a WebSocket capture, as REST trades ordered by id."""
    trades: dict[str, dict[int, dict[str, Any]]] = {}
    for payload in _payloads(path, "trade"):
        trades.setdefault(payload["s"], {})[payload["t"]] = rest_trade(payload)
    return {symbol: [by_id[i] for i in sorted(by_id)] for symbol, by_id in trades.items()}


def agg_trades_from_capture(path: Path) -> dict[str, list[dict[str, Any]]]:
    """Each symbol's ``@aggTrade`` payloads in REST's shape (spec §7.2), ordered by id."""
    aggs: dict[str, dict[int, dict[str, Any]]] = {}
    for payload in _payloads(path, "aggTrade"):
        item = {key: payload[key] for key in ("a", "p", "q", "f", "l", "T", "m", "M")}
        aggs.setdefault(payload["s"], {})[payload["a"]] = item
    return {symbol: [by_id[i] for i in sorted(by_id)] for symbol, by_id in aggs.items()}


def klines_from_csv(path: Path) -> list[list[Any]]:
    """A data.binance.vision spot kline CSV as REST kline arrays (spec §7.1)."""
    with path.open(newline="") as handle:
        return [
            [int(r[0]), *r[1:6], int(r[6]), r[7], int(r[8]), r[9], r[10], "0"]
            for r in csv.reader(handle)
        ]


def monthly_klines(first_year: int, first_month: int, count: int) -> list[list[Any]]:
    """``count`` consecutive ``1M`` REST kline arrays from the given UTC month on.

    SYNTHETIC: no real monthly kline file is at hand (../shared/data has 1m, 5m and 1h
    days). Open and close times follow Binance's monthly candles exactly (the 1st 00:00
    UTC to the last millisecond of the month); prices and volumes are made up but
    consistent (low ≤ open, close ≤ high)."""
    klines = []
    for n in range(count):
        year, month = divmod(first_month - 1 + n, 12)
        opens = datetime(first_year + year, month + 1, 1, tzinfo=UTC)
        year, month = divmod(first_month + n, 12)
        closes = datetime(first_year + year, month + 1, 1, tzinfo=UTC)
        open_ms, close_ms = int(opens.timestamp()) * 1000, int(closes.timestamp()) * 1000 - 1
        price = 20_000 + 1_000 * n
        klines.append(
            [
                open_ms,
                f"{price}.00000000",
                f"{price + 1500}.00000000",
                f"{price - 700}.00000000",
                f"{price + 1000}.00000000",
                f"{1000 + n}.50000000",
                close_ms,
                f"{(1000 + n) * price}.00000000",
                500_000 + n,
                f"{500 + n}.25000000",
                f"{(500 + n) * price}.00000000",
                "0",
            ]
        )
    return klines


@dataclass
class _Forced:
    status: int
    retry_after_s: int
    count: int
    endpoint: str | None


@dataclass
class SeenRequest:
    endpoint: str
    params: dict[str, str]
    at: float
    status: int = 200


@dataclass
class FakeBinanceRest:
    """The fake REST exchange; ``async with`` serves it on 127.0.0.1 (``url``), and ``app``
    can also be given to ``httpx.ASGITransport`` directly."""

    trades: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    agg_trades: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # (symbol, interval) → kline arrays ordered by open time.
    klines: dict[tuple[str, str], list[list[Any]]] = field(default_factory=dict)
    statuses: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_STATUSES))
    weight_limit: int = 6000
    clock: Callable[[], float] = time.time
    # Seconds each answer takes, like a distant exchange (lets a test interrupt a client).
    delay_s: float = 0.0
    requests: list[SeenRequest] = field(default_factory=list)
    early_requests: int = 0
    _forced: list[_Forced] = field(default_factory=list)
    _blocked_until: float = 0.0
    _used: dict[int, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.app = Starlette(
            routes=[
                Route(f"/api/v3/{name}", self._endpoint(name), methods=["GET"]) for name in WEIGHTS
            ]
        )
        self._loopback = LoopbackServer(self.app)

    def fail_next(
        self, status: int, retry_after_s: int, count: int = 1, endpoint: str | None = None
    ) -> None:
        """Answer the next ``count`` requests (of ``endpoint`` only, if given, such as
        ``historicalTrades``) with ``status`` (429 or 418) and Retry-After."""
        self._forced.append(_Forced(status, retry_after_s, count, endpoint))

    def served(self, endpoint: str) -> list[SeenRequest]:
        """Requests of one endpoint answered with 200."""
        return [r for r in self.requests if r.endpoint == endpoint and r.status == 200]

    # Serving on loopback

    @property
    def url(self) -> str:
        return self._loopback.url

    async def __aenter__(self) -> Self:
        await self._loopback.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self._loopback.__aexit__(exc_type, exc, traceback)

    # Rate limits

    def _endpoint(self, name: str) -> Callable[[Request], Any]:
        async def handle(request: Request) -> Response:
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            now = self.clock()
            seen = SeenRequest(name, dict(request.query_params), now)
            self.requests.append(seen)
            minute = int(now // 60)
            self._used[minute] = self._used.get(minute, 0) + WEIGHTS[name]
            used = self._used[minute]
            if now < self._blocked_until:
                self.early_requests += 1
                response = self._refuse(418, int(self._blocked_until - now) + 1, now)
            elif forced := self._forced_for(name):
                forced.count -= 1
                if forced.count <= 0:
                    self._forced.remove(forced)
                response = self._refuse(forced.status, forced.retry_after_s, now)
            elif used > self.weight_limit:
                response = self._refuse(429, (minute + 1) * 60 - int(now), now)
            else:
                response = self._answer(name, request.query_params)
            seen.status = response.status_code
            response.headers["X-MBX-USED-WEIGHT-1M"] = str(used)
            return response

        return handle

    def _forced_for(self, endpoint: str) -> _Forced | None:
        return next((f for f in self._forced if f.endpoint in (None, endpoint)), None)

    def _refuse(self, status: int, retry_after_s: int, now: float) -> Response:
        self._blocked_until = max(self._blocked_until, now + retry_after_s)
        msg = (
            "Way too much request weight used; IP banned."
            if status == 418
            else "Too much request weight used; current limit is "
            f"{self.weight_limit} request weight per 1 MINUTE."
        )
        return JSONResponse(
            {"code": -1003, "msg": msg}, status, headers={"Retry-After": str(retry_after_s)}
        )

    # Endpoints

    def _answer(self, name: str, query: Any) -> Response:
        try:
            body = getattr(self, f"_{name}")(query)
        except _BinanceError as error:
            return JSONResponse({"code": error.code, "msg": error.msg}, 400)
        return JSONResponse(body)

    def _ping(self, query: Any) -> object:
        return {}

    def _time(self, query: Any) -> object:
        return {"serverTime": int(self.clock() * 1000)}

    def _exchangeInfo(self, query: Any) -> object:
        wanted = list(self.statuses)
        if "symbols" in query:
            wanted = json.loads(query["symbols"])
        elif "symbol" in query:
            wanted = [query["symbol"]]
        for symbol in wanted:
            if symbol not in self.statuses:
                raise _BinanceError(-1121, "Invalid symbol.")
        return {
            "timezone": "UTC",
            "serverTime": int(self.clock() * 1000),
            "rateLimits": [
                {
                    "rateLimitType": "REQUEST_WEIGHT",
                    "interval": "MINUTE",
                    "intervalNum": 1,
                    "limit": self.weight_limit,
                },
                {
                    "rateLimitType": "RAW_REQUESTS",
                    "interval": "MINUTE",
                    "intervalNum": 5,
                    "limit": 61000,
                },
            ],
            "exchangeFilters": [],
            "symbols": [
                {"symbol": s, "status": self.statuses[s], "baseAsset": s[:-4], "quoteAsset": s[-4:]}
                for s in wanted
            ],
        }

    def _symbol(self, query: Any) -> str:
        symbol = query.get("symbol")
        if symbol is None:
            raise _BinanceError(-1102, "Mandatory parameter 'symbol' was not sent.")
        if symbol not in self.statuses:
            raise _BinanceError(-1121, "Invalid symbol.")
        return str(symbol)

    @staticmethod
    def _limit(query: Any) -> int:
        limit = int(query.get("limit", 500))
        if not 1 <= limit <= 1000:
            raise _BinanceError(-1130, "Data sent for parameter 'limit' is not valid.")
        return limit

    def _trades(self, query: Any) -> object:
        return self.trades.get(self._symbol(query), [])[-self._limit(query) :]

    def _historicalTrades(self, query: Any) -> object:
        trades = self.trades.get(self._symbol(query), [])
        limit = self._limit(query)
        if "fromId" not in query:
            return trades[-limit:]
        from_id = int(query["fromId"])
        return [t for t in trades if t["id"] >= from_id][:limit]

    def _aggTrades(self, query: Any) -> object:
        items = self.agg_trades.get(self._symbol(query), [])
        limit = self._limit(query)
        if "fromId" in query:
            return [a for a in items if a["a"] >= int(query["fromId"])][:limit]
        start = int(query.get("startTime", 0))
        end = int(query.get("endTime", 2**63))
        chosen = [a for a in items if start <= a["T"] <= end]
        return chosen[:limit] if "startTime" in query else chosen[-limit:]

    def _klines(self, query: Any) -> object:
        symbol = self._symbol(query)
        interval = query.get("interval")
        if interval not in _INTERVALS:
            raise _BinanceError(-1120, "Invalid interval.")
        items = self.klines.get((symbol, interval), [])
        limit = self._limit(query)
        start = int(query.get("startTime", 0))
        end = int(query.get("endTime", 2**63))
        chosen = [k for k in items if start <= k[0] <= end]
        return chosen[:limit] if "startTime" in query else chosen[-limit:]


class _BinanceError(Exception):
    def __init__(self, code: int, msg: str) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg
