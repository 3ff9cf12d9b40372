"""Publishing trades to JetStream with their exchange identity as ``Nats-Msg-Id``."""

from __future__ import annotations

import asyncio
import logging

from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from prometheus_client import Counter

from services.common import names
from services.common.codec import encode_trade
from services.common.trades import Trade

log = logging.getLogger(__name__)

_ACK_TIMEOUT_S = 5.0

PUBLISHED = Counter("quantflow_ingest_events_published", "Events acknowledged by JetStream")


class TradePublisher:
    """Publishes asynchronously in windows; a trade whose ack does not come is sent again
    until JetStream acknowledges it (the msg id makes the retry harmless)."""

    def __init__(self, js: JetStreamContext, namespace: str, window: int = 512) -> None:
        self._js = js
        self._namespace = namespace
        self._window = window
        self._inflight: list[tuple[Trade, asyncio.Future[object]]] = []
        self._flushing = asyncio.Lock()
        self.published = 0

    def _headers(self, trade: Trade) -> dict[str, str]:
        return {"Nats-Msg-Id": names.trade_msg_id(trade.venue, trade.symbol, trade.trade_id)}

    def _subject(self, trade: Trade) -> str:
        return names.trade_subject(trade.symbol, trade.venue, self._namespace)

    async def publish(self, trade: Trade) -> None:
        try:
            future = await self._js.publish_async(
                self._subject(trade), encode_trade(trade), headers=self._headers(trade)
            )
        except NatsError as error:
            log.warning("async publish failed (%s); publishing synchronously", error)
            await self._publish_until_acked(trade)
            return
        self._inflight.append((trade, future))
        if len(self._inflight) >= self._window:
            await self.flush()

    async def flush(self) -> None:
        """Wait for every ack sent so far; resend what was not acknowledged.

        Flushes take turns, so one that returns has also seen the end of any flush
        already under way (the periodic flusher's, say)."""
        async with self._flushing:
            inflight, self._inflight = self._inflight, []
            await self._await_acks(inflight)

    async def _await_acks(self, inflight: list[tuple[Trade, asyncio.Future[object]]]) -> None:
        for trade, future in inflight:
            try:
                await asyncio.wait_for(future, _ACK_TIMEOUT_S)
            except (TimeoutError, NatsError) as error:
                log.warning(
                    "no ack for %s:%d (%s); resending",
                    trade.symbol,
                    trade.trade_id,
                    error or type(error).__name__,
                )
                await self._publish_until_acked(trade)
                continue
            self._acked()

    def _acked(self) -> None:
        self.published += 1
        PUBLISHED.inc()

    async def _publish_until_acked(self, trade: Trade) -> None:
        delay = 0.2
        while True:
            try:
                await self._js.publish(
                    self._subject(trade),
                    encode_trade(trade),
                    headers=self._headers(trade),
                    timeout=_ACK_TIMEOUT_S,
                )
            except (TimeoutError, NatsError) as error:
                log.warning(
                    "publish of %s:%d failed (%s); retrying in %.1fs",
                    trade.symbol,
                    trade.trade_id,
                    error,
                    delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            self._acked()
            return
