"""Alert firings: ``notifications`` (each firing with its deliveries, a Relay-style
connection over AlertsService's ListNotifications pages), ``ruleHistory`` (when a condition
would have fired over stored data) and the ``alertFired`` subscription (firings as the
evaluators publish them on the bus)."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
from collections.abc import AsyncGenerator
from datetime import UTC, datetime
from typing import Annotated

import grpc
import nats.errors
import strawberry
from google.protobuf.message import DecodeError
from nats.aio.msg import Msg
from strawberry.types import Info

from graph.alert_channels import (
    DeliveryStatus,
    NotificationChannelKind,
    channel_kind_from_pb,
    delivery_status_from_pb,
)
from graph.alert_rpc import alerts_error, alerts_stub, optional_time, time_from_ms
from graph.alerts import get_rule
from graph.arguments import symbol_argument, venue_argument
from graph.context import Context
from graph.errors import TypedError
from graph.history import PageInfo
from graph.principal import owner
from graph.scalars import Int64
from graph.windows import window_ms
from quantflow.alerts.v1 import alert_fired_pb2
from quantflow.alerts.v1 import alerts_service_pb2 as pb
from services.common import names
from services.common.auth.modes import LOCAL_USER

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500  # ListNotifications' own limit
_CURSOR_PREFIX = "notifications:"
_RPC_TIMEOUT_S = 10.0
# ruleHistory reads the range's trades or candles from storage and evaluates them all.
_HISTORY_TIMEOUT_S = 120.0
# Firings a slow subscriber may fall behind by before the oldest are dropped.
_BACKLOG = 10_000


@strawberry.type(description="One attempt to send a notification.")
class DeliveryAttempt:
    number: int = strawberry.field(description="From 1.")
    started_at: datetime
    finished_at: datetime | None = strawberry.field(
        description="Null while the attempt has no outcome yet (or never got one)."
    )
    outcome: str = strawberry.field(
        description='"DELIVERED", "RETRY", "FAILED" or "UNKNOWN" (the worker stopped before '
        "an answer: the next attempt may deliver it a second time)."
    )
    detail: str = strawberry.field(description="What the channel answered, or the error.")


@strawberry.type(description="One firing's notification to one channel.")
class NotificationDelivery:
    id: strawberry.ID
    channel_id: strawberry.ID
    channel_kind: NotificationChannelKind
    channel_name: str
    status: DeliveryStatus
    reason: str | None = strawberry.field(
        description="Why it failed, or why its last attempt is to be retried; null otherwise."
    )
    attempts: int = strawberry.field(description="How many sends were tried so far.")
    # Not a list of DeliveryAttempt objects: the gateway's query cost counts each list as 10
    # items, so objects three lists deep (edges, deliveries, attempts) would never pass it.
    attempt_outcomes: list[str] = strawberry.field(
        description='Each attempt\'s outcome in order, e.g. ["RETRY", "RETRY", "DELIVERED"].'
    )
    last_attempt: DeliveryAttempt | None = strawberry.field(
        description="The latest attempt with its times and detail; null before the first."
    )
    idempotency_key: str = strawberry.field(
        description="The same on every retry: receivers drop repeats by it."
    )
    possible_duplicate: bool = strawberry.field(
        description="Sent again after an attempt whose outcome was unknown: it may have "
        "arrived twice (with the same idempotency key)."
    )
    delivered_at: datetime | None


@strawberry.type(description="A firing of a rule with what became of its notifications.")
class AlertNotification:
    id: strawberry.ID = strawberry.field(description="The firing's id.")
    rule_id: strawberry.ID
    symbol: str
    condition: str = strawberry.field(description="The rule's condition when it fired.")
    time: Int64 = strawberry.field(
        description="The trade's time, or the candle's open time, epoch milliseconds."
    )
    occurred_at: datetime = strawberry.field(description="`time` as a DateTime.")
    price: str = strawberry.field(description="Decimal string: the trade's price or the close.")
    trade_id: Int64 | None = strawberry.field(description="For trade-driven rules.")
    value: float = strawberry.field(description="The value the condition compared.")
    candle_open_time: Int64 | None = strawberry.field(
        description="For candle-driven rules: the candle's open, epoch milliseconds."
    )
    recorded_at: datetime = strawberry.field(description="When the firing was recorded.")
    deliveries: list[NotificationDelivery]


@strawberry.type(description="One firing and where it lies in the connection.")
class AlertNotificationEdge:
    cursor: str = strawberry.field(description="Opaque; pass as `after` to continue here.")
    node: AlertNotification


@strawberry.type(description="Firings, newest first, a page at a time.")
class AlertNotificationConnection:
    edges: list[AlertNotificationEdge]
    page_info: PageInfo


@strawberry.type(description="When a condition fired (or would have).")
class AlertFiring:
    time: Int64 = strawberry.field(
        description="The trade's time, or the candle's open time, epoch milliseconds."
    )
    occurred_at: datetime = strawberry.field(description="`time` as a DateTime.")
    price: str = strawberry.field(description="Decimal string: the trade's price or the close.")
    trade_id: Int64 | None = strawberry.field(description="For trade conditions.")
    value: float = strawberry.field(description="The value the condition compared.")
    candle_open_time: Int64 | None = strawberry.field(
        description="For candle conditions: the candle's open, epoch milliseconds."
    )


@strawberry.type(description="A rule fired: published as soon as the firing is recorded.")
class AlertFired:
    firing_id: strawberry.ID
    rule_id: strawberry.ID
    symbol: str
    venue: str
    condition: str
    interval: str | None = strawberry.field(description="Null for price (trade) conditions.")
    time: Int64 = strawberry.field(
        description="The trade's time, or the candle's open time, epoch milliseconds."
    )
    occurred_at: datetime = strawberry.field(description="`time` as a DateTime.")
    price: str = strawberry.field(description="Decimal string.")
    trade_id: Int64 | None
    value: float
    candle_open_time: Int64 | None


def _optional_int64(message: object, name: str) -> Int64 | None:
    if not message.HasField(name):  # type: ignore[attr-defined]
        return None
    return Int64(getattr(message, name))


def _attempt(attempt: pb.Attempt) -> DeliveryAttempt:
    return DeliveryAttempt(
        number=attempt.number,
        started_at=time_from_ms(attempt.started_ms),
        finished_at=time_from_ms(attempt.finished_ms) if attempt.finished_ms else None,
        outcome=attempt.outcome,
        detail=attempt.detail,
    )


def _delivery(delivery: pb.Delivery) -> NotificationDelivery:
    return NotificationDelivery(
        id=strawberry.ID(delivery.id),
        channel_id=strawberry.ID(delivery.channel_id),
        channel_kind=channel_kind_from_pb(delivery.channel_kind),
        channel_name=delivery.channel_name,
        status=delivery_status_from_pb(delivery.status),
        reason=delivery.reason or None,
        attempts=len(delivery.attempts),
        attempt_outcomes=[a.outcome for a in delivery.attempts],
        last_attempt=_attempt(delivery.attempts[-1]) if delivery.attempts else None,
        idempotency_key=delivery.idempotency_key,
        possible_duplicate=delivery.possible_duplicate,
        delivered_at=optional_time(delivery, "delivered_ms"),
    )


def notification_from_pb(firing: pb.Firing) -> AlertNotification:
    return AlertNotification(
        id=strawberry.ID(firing.id),
        rule_id=strawberry.ID(firing.rule_id),
        symbol=firing.symbol,
        condition=firing.condition,
        time=Int64(firing.time_ms),
        occurred_at=time_from_ms(firing.time_ms),
        price=firing.price,
        trade_id=_optional_int64(firing, "trade_id"),
        value=firing.value,
        candle_open_time=_optional_int64(firing, "candle_open_ms"),
        recorded_at=time_from_ms(firing.recorded_ms),
        deliveries=[_delivery(d) for d in firing.deliveries],
    )


def firing_from_pb(firing: pb.Firing) -> AlertFiring:
    return AlertFiring(
        time=Int64(firing.time_ms),
        occurred_at=time_from_ms(firing.time_ms),
        price=firing.price,
        trade_id=_optional_int64(firing, "trade_id"),
        value=firing.value,
        candle_open_time=_optional_int64(firing, "candle_open_ms"),
    )


def fired_from_pb(event: alert_fired_pb2.AlertFired) -> AlertFired:
    return AlertFired(
        firing_id=strawberry.ID(event.firing_id),
        rule_id=strawberry.ID(event.rule_id),
        symbol=event.symbol,
        venue=event.venue,
        condition=event.condition,
        interval=event.interval or None,
        time=Int64(event.time_ms),
        occurred_at=time_from_ms(event.time_ms),
        price=event.price,
        trade_id=_optional_int64(event, "trade_id"),
        value=event.value,
        candle_open_time=_optional_int64(event, "candle_open_ms"),
    )


def encode_cursor(page_token: str, skip: int) -> str:
    """A place in the list: ``skip`` firings into the page ``page_token`` starts."""
    return base64.urlsafe_b64encode(f"{_CURSOR_PREFIX}{skip}:{page_token}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[str, int]:
    """The page token and skip a cursor stands for; INVALID_ARGUMENT naming it otherwise."""
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
        if text.startswith(_CURSOR_PREFIX):
            skip, _, token = text.removeprefix(_CURSOR_PREFIX).partition(":")
            if skip.isdigit():
                return token, int(skip)
    except (binascii.Error, UnicodeError, ValueError):
        pass
    raise TypedError(
        "INVALID_ARGUMENT", f"after {cursor!r} is not a cursor: pass an endCursor or cursor"
    )


def _page_size(first: int | None) -> int:
    size = DEFAULT_PAGE_SIZE if first is None else first
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise TypedError(
            "INVALID_ARGUMENT", f"first {size}: give 1 to {MAX_PAGE_SIZE} firings a page"
        )
    return size


async def notifications(
    info: Info[Context, None],
    rule_id: Annotated[
        strawberry.ID | None, strawberry.argument(description="One rule's; all if none.")
    ] = None,
    first: Annotated[
        int | None,
        strawberry.argument(
            description=f"Page size: {DEFAULT_PAGE_SIZE} unless given, at most {MAX_PAGE_SIZE}."
        ),
    ] = None,
    after: Annotated[
        str | None, strawberry.argument(description="A cursor: the page after that firing.")
    ] = None,
) -> AlertNotificationConnection:
    size = _page_size(first)
    token, skip = ("", 0) if after is None else decode_cursor(after)
    stub = alerts_stub(info)
    edges: list[AlertNotificationEdge] = []
    has_next = False
    # The service pages by opaque tokens; a cursor is (token, firings into its page), so any
    # edge's cursor resumes right after it and the last one of a page is the next token.
    while len(edges) < size:
        request = pb.ListNotificationsRequest(
            owner=owner(info),
            rule_id="" if rule_id is None else str(rule_id),
            page_size=min(MAX_PAGE_SIZE, skip + size - len(edges)),
            page_token=token,
        )
        try:
            reply = await stub.ListNotifications(request, timeout=_RPC_TIMEOUT_S)
        except grpc.aio.AioRpcError as error:
            raise alerts_error(error, "notifications") from error
        taken = reply.firings[skip : skip + size - len(edges)]
        edges.extend(
            AlertNotificationEdge(
                cursor=encode_cursor(token, skip + offset + 1), node=notification_from_pb(f)
            )
            for offset, f in enumerate(taken)
        )
        if skip + len(taken) < len(reply.firings):
            has_next = True
            break
        has_next = bool(reply.next_page_token)
        if not has_next or not reply.firings:
            break
        if taken:
            edges[-1].cursor = encode_cursor(reply.next_page_token, 0)
        token, skip = reply.next_page_token, 0
    return AlertNotificationConnection(
        edges=edges,
        page_info=PageInfo(has_next_page=has_next, end_cursor=edges[-1].cursor if edges else None),
    )


async def rule_history(
    info: Info[Context, None],
    symbol: str,
    condition: str,
    from_: Annotated[datetime, strawberry.argument(name="from", description="Inclusive.")],
    to: Annotated[
        datetime | None, strawberry.argument(description="Exclusive; now if not given.")
    ] = None,
    interval: Annotated[
        str | None,
        strawberry.argument(description='A Binance interval ("1h" …) for candle conditions.'),
    ] = None,
    venue: str = names.VENUE_BINANCE,
) -> list[AlertFiring]:
    first_ms, end_ms = window_ms(from_, to or datetime.now(tz=UTC))
    assert first_ms is not None and end_ms is not None
    request = pb.RuleHistoryRequest(
        symbol=symbol_argument(symbol),
        venue=venue_argument(venue),
        condition=condition,
        interval=interval or "",
        from_ms=first_ms,
        to_ms=end_ms,
    )
    try:
        reply = await alerts_stub(info).RuleHistory(request, timeout=_HISTORY_TIMEOUT_S)
    except grpc.aio.AioRpcError as error:
        raise alerts_error(error, "ruleHistory") from error
    return [firing_from_pb(f) for f in reply.firings]


async def alert_fired(
    info: Info[Context, None],
    rule_ids: Annotated[
        list[strawberry.ID] | None, strawberry.argument(description="These rules'; all if none.")
    ] = None,
) -> AsyncGenerator[AlertFired, None]:
    """Firings from the bus as they are recorded; each rule id is checked first (NOT_FOUND)."""
    me = owner(info)  # only this user's firings
    wanted = {str(r) for r in rule_ids or []}
    for rule in sorted(wanted):
        await get_rule(info, rule, "alertFired")
    backends = info.context.backends
    queue: asyncio.Queue[Msg] = asyncio.Queue(maxsize=_BACKLOG)

    async def deliver(message: Msg) -> None:
        if queue.full():
            queue.get_nowait()
        queue.put_nowait(message)

    # Every symbol's subject, filtered here: a rule whose symbol is changed stays followed.
    subscription = await backends.nats.subscribe(
        names.all_alerts_fired_subject(backends.namespace), cb=deliver
    )
    try:
        while True:
            message = await queue.get()
            event = alert_fired_pb2.AlertFired()
            try:
                event.ParseFromString(message.data)
            except DecodeError:  # a malformed message is skipped, not fatal
                continue
            if wanted and event.rule_id not in wanted:
                continue
            if (event.owner or LOCAL_USER) != me:  # an empty owner is the local admin's
                continue
            yield fired_from_pb(event)
    finally:
        with contextlib.suppress(nats.errors.Error):
            await subscription.unsubscribe()


@strawberry.type
class AlertFiringQueries:
    notifications: AlertNotificationConnection = strawberry.field(
        resolver=notifications,
        description="Every firing, newest first, with each delivery's status (PENDING, "
        "DELIVERED, FAILED with the reason) and attempts.",
    )
    rule_history: list[AlertFiring] = strawberry.field(
        resolver=rule_history,
        description="When `condition` would have fired on `symbol` over stored data in [from, "
        "to), evaluated by the live evaluator's code (the first evaluation only sets the "
        "state, as live). `interval` only for candle conditions.",
    )


@strawberry.type
class AlertSubscriptions:
    alert_fired: AsyncGenerator[AlertFired, None] = strawberry.subscription(
        resolver=alert_fired,
        description="Each firing of the given rules (all if none) once it is recorded.",
    )
