"""``quantflow backfill SYMBOL --kind trade --from ID --to ID``: history from Binance REST
into the same tables as live data.

The fetched events take the one write path there is (REST → the same validation → the bus
→ storage), so nothing can be stored differently from live data and a rerun duplicates
nothing. What to fetch is asked of storage (``ListMissingTradeIds``): a rerun after Ctrl-C
fetches only what is still missing, and a run over a stored range fetches nothing. So a
running stack (``quantflow up``, or servers given by ``QUANTFLOW_NATS_URL`` and
``QUANTFLOW_STORAGE_TARGET``) is needed: storage is the one writer.
"""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import dataclass

import grpc

from quantflow.storage.v1 import storage_service_pb2 as storage_pb
from quantflow.storage.v1 import storage_service_pb2_grpc
from services.cli.up import read_run_file
from services.common import bus
from services.common.deadletter import DeadLetterPublisher
from services.common.errors import QuantflowError
from services.common.names import VENUE_BINANCE
from services.common.settings import Settings
from services.ingest.backfill import TradeFill, Unfillable, fill_range
from services.ingest.publisher import EventPublisher
from services.ingest.rest import BinanceRest

# The kinds a backfill can fetch today; aggTrade and kline_<interval> join once their
# events, tables and REST parsers exist.
KINDS = ("trade",)
# How long a run waits for a Retry-After or ban before giving up with the time to retry.
_MAX_REST_WAIT_S = 300.0
# How long the end of a run waits for storage to have written what was published.
_STORED_WAIT_S = 120.0


class BackfillError(Exception):
    """An expected failure: one line for the user."""


@dataclass(frozen=True, slots=True)
class Targets:
    nats_url: str
    storage_target: str


def targets(settings: Settings) -> Targets:
    """Where the running stack is: the run file of ``quantflow up``, else the settings."""
    state = read_run_file(settings.data_dir)
    if state is not None:
        nats = state["nats"]
        components = state["components"]
        assert isinstance(nats, dict) and isinstance(components, list)
        storage = next(c["grpc"] for c in components if c["name"] == "storage")
        return Targets(str(nats["url"]), str(storage))
    if settings.nats_url:
        return Targets(settings.nats_url, settings.storage_target)
    raise BackfillError(
        f"no running QuantFlow found (no run file in {settings.data_dir.resolve()}) and "
        "QUANTFLOW_NATS_URL is not set; start `quantflow up` first, or give --data-dir"
    )


class Progress:
    """One stderr line, rewritten in place: ``BTCUSDT trades 4,000/9,757 (41%)``."""

    def __init__(self, label: str, total: int) -> None:
        self._label = label
        self._total = total
        self.done = 0
        self._shown = 0.0

    def advance(self, count: int) -> None:
        self.done += count
        now = time.monotonic()
        if now - self._shown >= 0.2 or self.done >= self._total:
            self._shown = now
            percent = 100 * self.done // max(self._total, 1)
            print(
                f"\r{self._label} {self.done:,}/{self._total:,} ({percent}%)",
                end="",
                file=sys.stderr,
                flush=True,
            )

    def finish(self) -> None:
        if self._shown:
            print(file=sys.stderr)


async def missing_ranges(
    target: str, symbol: str, first_id: int, last_id: int
) -> list[tuple[int, int]]:
    async with grpc.aio.insecure_channel(target) as channel:
        stub = storage_service_pb2_grpc.StorageServiceStub(channel)
        try:
            reply = await stub.ListMissingTradeIds(
                storage_pb.ListMissingTradeIdsRequest(
                    symbol=symbol, venue=VENUE_BINANCE, first_id=first_id, last_id=last_id
                ),
                timeout=30,
            )
        except grpc.aio.AioRpcError as error:
            raise BackfillError(
                f"storage at {target} did not answer ({error.code().name}: {error.details()})"
            ) from None
    return [(r.first_id, r.last_id) for r in reply.missing]


async def backfill_trades(
    settings: Settings, symbol: str, first_id: int, last_id: int, rest_url: str
) -> str:
    """Fetch and publish the trades of ``first_id`` … ``last_id`` not stored yet; return
    the summary line once storage holds them all."""
    where = targets(settings)
    missing = await missing_ranges(where.storage_target, symbol, first_id, last_id)
    if not missing:
        return f"{symbol} trades {first_id}-{last_id}: all stored already, nothing to fetch"
    total = sum(last - first + 1 for first, last in missing)
    progress = Progress(f"{symbol} trades", total)
    nc = await bus.connect(where.nats_url, "backfill")
    rest = BinanceRest(rest_url, max_wait_s=_MAX_REST_WAIT_S)
    problems: list[str] = []
    try:
        js = nc.jetstream()
        await bus.ensure_streams(js, settings.namespace, settings.market_max_age_hours * 3600)
        dead_letters = DeadLetterPublisher(js, settings.namespace, VENUE_BINANCE)
        series = TradeFill(EventPublisher(nc, settings.namespace, dead_letters))
        for first, last in missing:
            try:
                await fill_range(
                    rest, series, dead_letters, VENUE_BINANCE, symbol, first, last, progress.advance
                )
            except Unfillable as error:
                problems.append(str(error))
    except QuantflowError as error:
        raise BackfillError(str(error)) from None
    finally:
        progress.finish()
        await rest.aclose()
        await nc.drain()
    deadline = time.monotonic() + _STORED_WAIT_S
    while True:
        left = await missing_ranges(where.storage_target, symbol, first_id, last_id)
        count = sum(last - first + 1 for first, last in left)
        if not left or problems or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.5)
    if problems:
        raise BackfillError(f"{count:,} trades still missing: {'; '.join(problems)}")
    if left:
        raise BackfillError(
            f"{count:,} published trades not stored after {_STORED_WAIT_S:.0f}s; "
            "is storage running? run the command again to finish"
        )
    return f"{symbol} trades {first_id}-{last_id}: {total:,} fetched, all stored"
