"""The delivery worker: sends the notification outbox out through the channel senders, and
records every attempt (the SQL: :mod:`services.alerts.delivery_store`).

It wakes on ``NOTIFY alert_outbox`` (a firing committed), when one of its sends finishes,
when the next retry is due, and at least every ``poll_s``. Each wake it claims the due head
of every channel it is not already sending to, commits the claim (attempt row UNKNOWN,
``sending_since``) and only then sends; channels are sent to concurrently, each one strictly
in order. A send's answer is recorded whatever happens to the database meanwhile: the worker
keeps trying to write it until PostgreSQL is back.

Recovery needs no special start-up step: a head found with ``sending_since`` set and no live
worker holding its channel's lease had an unknown outcome; it is sent again once with the
same idempotency key, flagged ``possible_duplicate`` (:mod:`services.alerts.delivery_rules`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from uuid import UUID

import asyncpg
from prometheus_client import Counter, Histogram

from services.alerts import delivery_store
from services.alerts.channels.outcome import ChannelKind, Failed, Outcome, Retry
from services.alerts.channels.senders import Sender
from services.alerts.delivery_rules import Recovery, Settlement, recover, settle
from services.alerts.outbox import OUTBOX_CHANNEL
from services.storage.database_errors import DATABASE_UNAVAILABLE_ERRORS

log = logging.getLogger(__name__)

DELIVERIES = Counter(
    "quantflow_alerts_deliveries",
    "Notification sends by channel kind and outcome (delivered, retry, failed, unknown)",
    ["kind", "outcome"],
)
SEND_SECONDS = Histogram(
    "quantflow_alerts_send_seconds", "Time one send took, by channel kind", ["kind"]
)
# The outbox's size and age are services.alerts.metrics.OutboxGauges'.

# A sender that raised (a bug: senders answer every fault with an outcome) tries again.
_SENDER_ERROR_RETRY_S = 60.0
# A due head another worker is sending to is looked at again this often.
_BUSY_RECHECK_S = 0.1


@dataclass(frozen=True)
class DeliverySettings:
    """The worker's knobs. ``poll_s``: the longest sleep between looks at the outbox (NOTIFY
    usually wakes it sooner); ``max_in_flight``: channels sent to at once;
    ``database_retry_s``: the pause after the database could not be reached; ``drain_s``: on
    stop, how long sends already out may take to be answered and recorded."""

    poll_s: float = 1.0
    max_in_flight: int = 32
    database_retry_s: float = 1.0
    drain_s: float = 15.0
    # After a service refused a channel itself (Discord 401/403/404, a Telegram bot blocked),
    # its later notifications fail unsent for this long instead of being refused one by one.
    refused_channel_hold_s: float = 600.0

    def __post_init__(self) -> None:
        if (
            self.poll_s <= 0
            or self.database_retry_s <= 0
            or self.drain_s < 0
            or self.refused_channel_hold_s < 0
        ):
            raise ValueError(f"DeliverySettings needs positive waits; got {self}")
        if self.max_in_flight < 1:
            raise ValueError(f"max_in_flight must be ≥ 1; got {self.max_in_flight}")


class DeliveryWorker:
    """Run with :meth:`run` until ``stop`` is set. ``pool`` must allow at least two
    connections: the worker keeps one (its control connection: LISTEN and channel leases)."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        senders: Mapping[ChannelKind, Sender],
        settings: DeliverySettings | None = None,
    ) -> None:
        self._pool = pool
        self._senders = dict(senders)
        self._settings = settings or DeliverySettings()
        self._wake = asyncio.Event()
        self._control: asyncpg.pool.PoolConnectionProxy | None = None
        # Channel → the task sending to it.
        self._in_flight: dict[UUID, asyncio.Task[None]] = {}
        # One operation at a time on the control connection (the loop and finished sends).
        self._control_lock = asyncio.Lock()
        # Channel → (monotonic time until which it counts as refused, the refusal).
        self._refused: dict[UUID, tuple[float, str]] = {}

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set, then give the sends already out ``drain_s`` to be
        answered and recorded. Cancelled, the sends out are abandoned: their outcome is
        unknown, and the next worker repeats them once."""
        try:
            await self._loop(stop)
            await self._drain(self._settings.drain_s)
        finally:
            await self._drain(0.0)
            await self._drop_control()

    async def _loop(self, stop: asyncio.Event) -> None:
        settings = self._settings
        while not stop.is_set():
            self._wake.clear()
            try:
                control = await self._control_connection()
                limited = await self._claim_and_send(control)
                sleep_s = await self._next_wake_s(limited)
            except DATABASE_UNAVAILABLE_ERRORS as error:
                log.warning(
                    "outbox: the database is unavailable (%s: %s); retrying in %.1fs",
                    type(error).__name__,
                    error,
                    settings.database_retry_s,
                )
                if not await self._control_answers():
                    await self._drop_control()
                sleep_s = settings.database_retry_s
            except Exception:
                # Whatever it was, the outbox is intact: the worker lives and looks again.
                log.exception(
                    "outbox: claiming failed; retrying in %.1fs", settings.database_retry_s
                )
                sleep_s = settings.database_retry_s
            await _wait_any(stop, self._wake, sleep_s)

    # The control connection: LISTEN and the channel leases live on its session.

    async def _control_connection(self) -> asyncpg.pool.PoolConnectionProxy:
        if self._control is not None and _usable(self._control):
            return self._control
        await self._drop_control()
        control = await self._pool.acquire()
        try:
            await control.add_listener(OUTBOX_CHANNEL, self._notified)
            # Sends still out from before the connection was lost keep their channels.
            async with self._control_lock:
                taken = await delivery_store.take_leases(control, list(self._in_flight))
        except BaseException:
            with contextlib.suppress(*DATABASE_UNAVAILABLE_ERRORS):
                await self._pool.release(control)
            raise
        lost = set(self._in_flight) - taken
        if lost:
            log.warning("outbox: %d channel leases were taken over while disconnected", len(lost))
        self._control = control
        return control

    async def _control_answers(self) -> bool:
        """Whether the control connection still works (a failure elsewhere — no free
        connection, say — must not give up the leases of the sends that are out)."""
        control = self._control
        if control is None or not _usable(control):
            return False
        try:
            async with self._control_lock:
                await control.fetchval("SELECT 1", timeout=5.0)
        except (*DATABASE_UNAVAILABLE_ERRORS, asyncpg.PostgresError):
            return False
        return True

    async def _drop_control(self) -> None:
        control, self._control = self._control, None
        if control is None:
            return
        # Releasing resets the session (advisory locks included), or closes a dead one.
        with contextlib.suppress(*DATABASE_UNAVAILABLE_ERRORS):
            if _usable(control):
                await control.remove_listener(OUTBOX_CHANNEL, self._notified)
        with contextlib.suppress(*DATABASE_UNAVAILABLE_ERRORS):
            await self._pool.release(control, timeout=5.0)

    def _notified(self, *_: object) -> None:
        self._wake.set()

    # Claiming.

    async def _claim_and_send(self, control: asyncpg.pool.PoolConnectionProxy) -> dict[UUID, float]:
        """Claim and start sending what is due; the channels left waiting for their sender's
        rate limit, with the seconds to wait."""
        room = self._settings.max_in_flight - len(self._in_flight)
        if room <= 0:
            return {}
        busy = list(self._in_flight)
        claimed: list[delivery_store.Claimed] = []
        limited: dict[UUID, float] = {}
        leased: set[UUID] = set()
        settled: list[tuple[ChannelKind, str]] = []
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                candidates = await delivery_store.due_heads(conn, busy, room)
                sendable = []
                for candidate in candidates:
                    wait_s = self._wait_s(candidate)
                    if wait_s > 0:
                        limited[candidate.channel_id] = wait_s
                    else:
                        sendable.append(candidate)
                async with self._control_lock:
                    leased = await delivery_store.take_leases(
                        control, [c.channel_id for c in sendable]
                    )
                for candidate in sendable:
                    if candidate.channel_id not in leased:
                        continue  # another worker is sending to this channel
                    counts: list[str] = []
                    claim = await self._claim(conn, candidate, counts)
                    settled.extend((candidate.channel.kind, outcome) for outcome in counts)
                    if claim is not None:
                        claimed.append(claim)
        except BaseException:
            # Not committed: nothing was claimed, no lease is kept.
            await self._release_quietly(control, leased)
            raise
        # Committed: each claimed send may go out now.
        for kind, outcome in settled:
            DELIVERIES.labels(kind.value, outcome).inc()
        sending = {claim.channel_id for claim in claimed}
        await self._release_quietly(control, leased - sending)
        for claim in claimed:
            task = asyncio.create_task(self._deliver(claim), name=f"deliver-{claim.id}")
            self._in_flight[claim.channel_id] = task
        return limited

    def _wait_s(self, candidate: delivery_store.Candidate) -> float:
        """Seconds before the channel's own limits let it be sent to (no attempt is spent
        waiting for a rate limit). What will not be sent is settled at once."""
        sender = self._senders.get(candidate.channel.kind)
        if sender is None or candidate.channel_deleted:
            return 0.0
        if candidate.orphan and recover(possible_duplicate=candidate.possible_duplicate) is (
            Recovery.GIVE_UP
        ):
            return 0.0
        return sender.wait_s(candidate.channel)

    async def _claim(
        self, conn: asyncpg.Connection, candidate: delivery_store.Candidate, counts: list[str]
    ) -> delivery_store.Claimed | None:
        """Claim ``candidate`` in the claim transaction, or settle it there without sending;
        ``counts`` gathers the outcomes to count once that commits."""
        kind = candidate.channel.kind
        if candidate.channel_deleted:
            await delivery_store.fail_unsent(conn, candidate.id, "the channel was deleted")
            counts.append("failed")
            return None
        if kind not in self._senders:
            await delivery_store.fail_unsent(
                conn, candidate.id, f"no sender for {kind.value} channels"
            )
            counts.append("failed")
            return None
        refusal = self._refusal(candidate.channel_id)
        if refusal is not None and not candidate.orphan:
            await delivery_store.fail_unsent(conn, candidate.id, f"not sent: {refusal}")
            counts.append("failed")
            return None
        if candidate.orphan:
            counts.append("unknown")
            if recover(possible_duplicate=candidate.possible_duplicate) is Recovery.GIVE_UP:
                log.warning("notification %d: unknown outcome twice; not sent again", candidate.id)
                await delivery_store.give_up_unknown_twice(conn, candidate.id)
                counts.append("failed")
                return None
            log.warning(
                "notification %d: its send's outcome is unknown (a worker stopped mid-send); "
                "sending it again flagged as a possible duplicate",
                candidate.id,
            )
        return await delivery_store.mark_sending(conn, candidate)

    def _refusal(self, channel_id: UUID) -> str | None:
        refused = self._refused.get(channel_id)
        if refused is None:
            return None
        until, reason = refused
        if time.monotonic() >= until:
            del self._refused[channel_id]
            return None
        return reason

    async def _release_quietly(
        self, control: asyncpg.pool.PoolConnectionProxy, channel_ids: set[UUID]
    ) -> None:
        async with self._control_lock:
            for channel_id in channel_ids:
                with contextlib.suppress(*DATABASE_UNAVAILABLE_ERRORS):
                    await delivery_store.release_lease(control, channel_id)

    # Sending.

    async def _deliver(self, claim: delivery_store.Claimed) -> None:
        try:
            outcome = await self._send(claim)
            settlement = settle(outcome, possible_duplicate=claim.possible_duplicate)
            DELIVERIES.labels(claim.channel.kind.value, _metric_outcome(settlement)).inc()
            if isinstance(outcome, Failed) and outcome.refuses_channel:
                self._refused[claim.channel_id] = (
                    time.monotonic() + self._settings.refused_channel_hold_s,
                    f"the channel was refused by its service ({outcome.reason})",
                )
            await self._record(claim, settlement)
        except Exception:
            # Left marked mid-send: the next claim repeats it once, as an unknown outcome.
            log.exception("notification %d: its answer could not be recorded", claim.id)
        finally:
            control = self._control
            if control is not None and _usable(control):
                await self._release_quietly(control, {claim.channel_id})
            self._in_flight.pop(claim.channel_id, None)
            self._wake.set()

    async def _send(self, claim: delivery_store.Claimed) -> Outcome:
        sender = self._senders[claim.channel.kind]
        started = time.monotonic()
        try:
            return await sender.send(claim.channel, claim.notice, claim.attempt)
        except Exception as error:
            log.exception("notification %d: the %s sender raised", claim.id, claim.channel.kind)
            return Retry(_SENDER_ERROR_RETRY_S, f"internal error: {type(error).__name__}")
        finally:
            SEND_SECONDS.labels(claim.channel.kind.value).observe(time.monotonic() - started)

    async def _record(self, claim: delivery_store.Claimed, settlement: Settlement) -> None:
        """Write the answer, waiting out a database that is down; given up only when the
        worker stops (the send then counts as unknown, and is repeated once)."""
        while True:
            try:
                async with self._pool.acquire() as conn:
                    if not await delivery_store.record(conn, claim, settlement):
                        log.warning(
                            "notification %d: another worker took it over; answer of attempt "
                            "%d kept on the attempt only",
                            claim.id,
                            claim.attempt,
                        )
                return
            except DATABASE_UNAVAILABLE_ERRORS as error:
                log.warning(
                    "notification %d: cannot record the answer yet (%s); retrying",
                    claim.id,
                    type(error).__name__,
                )
                await asyncio.sleep(self._settings.database_retry_s)

    async def _drain(self, timeout_s: float) -> None:
        """Wait up to ``timeout_s`` for the sends out, then cancel the rest."""
        tasks = list(self._in_flight.values())
        if not tasks:
            return
        late = set(tasks)
        if timeout_s > 0:
            _, late = await asyncio.wait(tasks, timeout=timeout_s)
        for task in late:
            task.cancel()
        for task in late:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # Bookkeeping.

    async def _next_wake_s(self, limited: dict[UUID, float]) -> float:
        """How long to sleep unless woken: until the next retry is due or a rate limit
        lifts, at most ``poll_s``. A head due now that could not be claimed (another worker
        sends to its channel) is looked at again soon."""
        poll_s = self._settings.poll_s
        if len(self._in_flight) >= self._settings.max_in_flight:
            return poll_s  # a finishing send wakes the loop
        async with self._pool.acquire() as conn:
            due_in = await delivery_store.seconds_until_due(conn, [*self._in_flight, *limited])
        waits = [poll_s, *limited.values()]
        if due_in is not None:
            waits.append(max(due_in, _BUSY_RECHECK_S))
        return max(min(waits), 0.005)


def _usable(conn: asyncpg.pool.PoolConnectionProxy) -> bool:
    """Whether a pooled connection is still open (the pool detaches one that closed)."""
    try:
        return not conn.is_closed()
    except asyncpg.InterfaceError:
        return False


def _metric_outcome(settlement: Settlement) -> str:
    return settlement.attempt_outcome.value.lower()


async def _wait_any(stop: asyncio.Event, wake: asyncio.Event, timeout_s: float) -> None:
    waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wake.wait())]
    try:
        await asyncio.wait(waiters, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
