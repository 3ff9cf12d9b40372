"""Binance Spot REST market data, within Binance's request-weight rules.

Rules kept (binance-ws-spec.md §6-8):

* every endpoint's weight is counted against the 1-minute ``REQUEST_WEIGHT`` limit (from
  ``exchangeInfo``'s ``rateLimits``, 6000 until known), corrected by each response's
  ``X-MBX-USED-WEIGHT-1M``; a request that would pass the limit waits for the next minute;
* a 429 or 418 answer blocks every request until its ``Retry-After`` has passed, then the
  request is sent again. No request is ever sent before a ``Retry-After`` expires, which
  is what turns 429s into a 418 ban;
* requests go one at a time, so the weight count is never raced.

Answers are returned as the raw JSON Binance sent: callers put them through the same
validation as WebSocket messages. Transport and exchange errors are translated here, once,
into :mod:`services.common.errors` types.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from services.common.clock import Clock, SystemClock
from services.common.errors import InvalidArgument, Unavailable

log = logging.getLogger(__name__)

DEFAULT_WEIGHT_LIMIT = 6000
MAX_LIMIT = 1000
# Request weights (spec §7).
WEIGHTS = {
    "/api/v3/ping": 1,
    "/api/v3/time": 1,
    "/api/v3/exchangeInfo": 20,
    "/api/v3/historicalTrades": 25,
    "/api/v3/trades": 25,
    "/api/v3/aggTrades": 4,
    "/api/v3/klines": 2,
}
_USED_WEIGHT_HEADER = "X-MBX-USED-WEIGHT-1M"
# A 429 without Retry-After: wait out the minute; a 418 without it: the shortest ban.
_DEFAULT_429_WAIT_S = 60.0
_DEFAULT_418_WAIT_S = 120.0


@dataclass(frozen=True, slots=True)
class ExchangeInfo:
    """What ``exchangeInfo`` says about symbols and limits."""

    # Symbol → status ("TRADING", "BREAK", "HALT", …).
    statuses: dict[str, str]
    weight_limit_per_minute: int


class BinanceRest:
    """An async Binance REST client; ``clock`` drives every wait (inject one in tests).

    ``max_wait_s`` bounds how long a call waits for a Retry-After or ban to pass; beyond
    it the call raises :class:`Unavailable` naming when requests may resume (None: wait).
    """

    def __init__(
        self,
        base_url: str,
        *,
        clock: Clock | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout_s: float = 10.0,
        max_wait_s: float | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._clock: Clock = clock or SystemClock()
        self._client = httpx.AsyncClient(
            base_url=self.base_url, transport=transport, timeout=timeout_s
        )
        self._max_wait_s = max_wait_s
        self._turn = asyncio.Lock()
        self.weight_limit = DEFAULT_WEIGHT_LIMIT
        self.used_weight = 0
        self._weight_minute = -1
        self.blocked_until = 0.0
        """Wall-clock second before which no request may be sent (Retry-After, a ban)."""
        self.requests_sent = 0

    async def aclose(self) -> None:
        await self._client.aclose()

    async def ping(self) -> None:
        await self._get("/api/v3/ping", {})

    async def server_time(self) -> int:
        """Binance's clock, epoch milliseconds."""
        answer = await self._get("/api/v3/time", {})
        return int(answer["serverTime"])

    async def exchange_info(self, symbols: tuple[str, ...] = ()) -> ExchangeInfo:
        """Status of ``symbols`` (every symbol if empty); an unknown symbol is
        :class:`InvalidArgument`. Adopts the exchange's request-weight limit."""
        params: dict[str, str | int] = {}
        if symbols:
            params["symbols"] = json.dumps(list(symbols), separators=(",", ":"))
        answer = await self._get("/api/v3/exchangeInfo", params)
        limit = DEFAULT_WEIGHT_LIMIT
        for rule in answer.get("rateLimits", []):
            if (
                rule.get("rateLimitType") == "REQUEST_WEIGHT"
                and rule.get("interval") == "MINUTE"
                and rule.get("intervalNum") == 1
            ):
                limit = int(rule["limit"])
        self.weight_limit = limit
        statuses = {item["symbol"]: item["status"] for item in answer.get("symbols", [])}
        return ExchangeInfo(statuses, limit)

    async def historical_trades(
        self, symbol: str, from_id: int | None = None, limit: int = MAX_LIMIT
    ) -> list[dict[str, Any]]:
        """Trades from ``from_id`` on (the most recent without it), oldest first."""
        params: dict[str, str | int] = {"symbol": symbol, "limit": _limit(limit)}
        if from_id is not None:
            params["fromId"] = from_id
        answer: list[dict[str, Any]] = await self._get("/api/v3/historicalTrades", params)
        return answer

    async def agg_trades(
        self,
        symbol: str,
        *,
        from_id: int | None = None,
        start_ms: int | None = None,
        end_ms: int | None = None,
        limit: int = MAX_LIMIT,
    ) -> list[dict[str, Any]]:
        """Aggregate trades from ``from_id``, or between two times, oldest first."""
        params: dict[str, str | int] = {"symbol": symbol, "limit": _limit(limit)}
        for key, value in (("fromId", from_id), ("startTime", start_ms), ("endTime", end_ms)):
            if value is not None:
                params[key] = value
        answer: list[dict[str, Any]] = await self._get("/api/v3/aggTrades", params)
        return answer

    async def klines(
        self,
        symbol: str,
        interval: str,
        start_ms: int | None = None,
        end_ms: int | None = None,
        limit: int = MAX_LIMIT,
    ) -> list[list[Any]]:
        """Klines of ``interval`` opening from ``start_ms`` to ``end_ms``, oldest first.
        Without ``end_ms`` the last one may still be open (spec §7.1)."""
        params: dict[str, str | int] = {
            "symbol": symbol,
            "interval": interval,
            "limit": _limit(limit),
        }
        for key, value in (("startTime", start_ms), ("endTime", end_ms)):
            if value is not None:
                params[key] = value
        answer: list[list[Any]] = await self._get("/api/v3/klines", params)
        return answer

    async def _get(self, path: str, params: dict[str, str | int]) -> Any:
        weight = WEIGHTS[path]
        async with self._turn:
            while True:
                await self._wait_for_turn(weight)
                response = await self._send(path, params)
                self._note_used_weight(response)
                if response.status_code in (418, 429):
                    self._block(path, response)
                    continue
                return self._result(path, response)

    async def _wait_for_turn(self, weight: int) -> None:
        while True:
            now = self._clock.time()
            if now < self.blocked_until:
                wait_s = self.blocked_until - now
                if self._max_wait_s is not None and wait_s > self._max_wait_s:
                    raise Unavailable(
                        f"Binance REST at {self.base_url} refuses requests until "
                        f"{_iso(self.blocked_until)} (Retry-After); try again then"
                    )
                await self._clock.sleep(wait_s)
                continue
            minute = int(now // 60)
            if minute != self._weight_minute:
                self._weight_minute = minute
                self.used_weight = 0
            if self.used_weight + weight > self.weight_limit:
                await self._clock.sleep((minute + 1) * 60 - now)
                continue
            self.used_weight += weight  # until the answer's header says exactly
            return

    async def _send(self, path: str, params: dict[str, str | int]) -> httpx.Response:
        self.requests_sent += 1
        try:
            return await self._client.get(path, params=params)
        except httpx.HTTPError as error:
            raise Unavailable(
                f"cannot reach Binance REST at {self.base_url}: {type(error).__name__}: {error}"
            ) from error

    def _note_used_weight(self, response: httpx.Response) -> None:
        used = response.headers.get(_USED_WEIGHT_HEADER)
        if used is not None and used.isdigit():
            self.used_weight = int(used)

    def _block(self, path: str, response: httpx.Response) -> None:
        banned = response.status_code == 418
        default = _DEFAULT_418_WAIT_S if banned else _DEFAULT_429_WAIT_S
        retry_after = response.headers.get("Retry-After", "")
        wait_s = float(retry_after) if retry_after.isdigit() else default
        self.blocked_until = max(self.blocked_until, self._clock.time() + wait_s)
        log.warning(
            "Binance REST %s on %s (%s); no request before %s",
            response.status_code,
            path,
            "IP banned" if banned else "rate limit",
            _iso(self.blocked_until),
        )

    def _result(self, path: str, response: httpx.Response) -> Any:
        if response.status_code >= 500:
            # Spec §6: a 5xx means the outcome is unknown, not that the request failed.
            raise Unavailable(f"Binance REST {path} answered {response.status_code}")
        try:
            body = response.json()
        except ValueError as error:
            raise Unavailable(
                f"Binance REST {path} answered {response.status_code} with no JSON"
            ) from error
        if response.status_code >= 400:
            code = body.get("code") if isinstance(body, dict) else None
            msg = body.get("msg") if isinstance(body, dict) else response.text[:200]
            if response.status_code == 403:
                raise Unavailable(f"Binance REST {path} refused (403, firewall): {msg}")
            raise InvalidArgument(f"Binance refused {path}: {msg} (code {code})")
        return body


def _limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidArgument(f"limit {limit} is outside 1 to {MAX_LIMIT}")
    return limit


def _iso(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
