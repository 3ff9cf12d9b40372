"""Alert rules: GraphQL over AlertsService's rule RPCs (``createAlertRule``, ``alertRules``,
``alertRule``, ``updateAlertRule``, ``pauseAlertRule``, ``resumeAlertRule``,
``deleteAlertRule``); with the channels' fields (graph/alert_channels.py) the alerts part of
Query and Mutation.

The gateway checks only what it can name without the service (symbol, venue); the service
checks conditions, intervals and channels, and its INVALID_ARGUMENT names the problem and
its column in the condition, which the error answers also as ``extensions.column``.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Annotated

import grpc
import strawberry
from strawberry.types import Info

from graph.alert_channels import ChannelMutations, ChannelQueries
from graph.alert_rpc import (
    RPC_TIMEOUT_S,
    alerts_error,
    alerts_stub,
    optional_time,
    time_from_ms,
)
from graph.arguments import symbol_argument, venue_argument
from graph.context import Context
from graph.principal import owner
from graph.windows import epoch_ms
from quantflow.alerts.v1 import alerts_service_pb2 as pb
from services.common import names


@strawberry.enum(
    description="ONCE: the rule finishes after its first firing. RECURRING: it re-arms when "
    "its condition is false again (or the price passes `rearm`), not before `cooldownSeconds`."
)
class AlertRuleMode(enum.Enum):
    ONCE = "ONCE"
    RECURRING = "RECURRING"


@strawberry.enum(
    description="ARMED: fires at its condition's next false→true turn. DISARMED: a RECURRING "
    "rule that fired, waiting to re-arm. PAUSED: not evaluated. FINISHED: a ONCE rule that "
    "fired. EXPIRED: past `expiresAt`."
)
class AlertRuleState(enum.Enum):
    ARMED = "ARMED"
    DISARMED = "DISARMED"
    PAUSED = "PAUSED"
    FINISHED = "FINISHED"
    EXPIRED = "EXPIRED"


def mode_to_pb(mode: AlertRuleMode) -> pb.RuleMode.ValueType:
    return pb.RuleMode.Value(f"RULE_MODE_{mode.value}")


def mode_from_pb(value: int) -> AlertRuleMode:
    if value == pb.RULE_MODE_UNSPECIFIED:
        return AlertRuleMode.RECURRING  # the proto's default
    return AlertRuleMode(pb.RuleMode.Name(value).removeprefix("RULE_MODE_"))


def state_from_pb(value: int) -> AlertRuleState:
    if value == pb.RULE_STATE_UNSPECIFIED:
        return AlertRuleState.ARMED  # the zero value: a rule nothing has happened to yet
    return AlertRuleState(pb.RuleState.Name(value).removeprefix("RULE_STATE_"))


@strawberry.input(
    description="An alert rule: when `condition` turns true on `symbol`, notify `channelIds`."
)
class AlertRuleInput:
    symbol: str
    condition: str = strawberry.field(
        description='E.g. "price crosses_above 2680", "change(15m) < -5%", "rsi(14) < 30", '
        '"close crosses_above sma(50) and volume > 100".'
    )
    interval: str | None = strawberry.field(
        default=None,
        description='A Binance interval ("1m", "1h" …) for candle conditions (indicators, '
        "close …), evaluated on each closed candle; none for price conditions, evaluated on "
        "every trade.",
    )
    mode: AlertRuleMode = AlertRuleMode.RECURRING
    cooldown_seconds: int = strawberry.field(
        default=0, description="RECURRING: the least time between two firings."
    )
    rearm: float | None = strawberry.field(
        default=None,
        description="RECURRING: re-arm only when the price passes this level again (instead "
        "of when the condition is false again).",
    )
    expires_at: datetime | None = strawberry.field(
        default=None, description="From then on the rule never fires (EXPIRED)."
    )
    channel_ids: list[strawberry.ID] = strawberry.field(
        default_factory=list, description="The channels each firing is sent to."
    )
    venue: str = strawberry.field(
        default=names.VENUE_BINANCE, description='"binance" (spot) or "binance_usdm".'
    )


@strawberry.input(
    description="The fields of a rule to change; those not given keep their values, and "
    "`interval`, `rearm` and `expiresAt` given as null are cleared. A changed symbol, "
    "condition or interval starts the rule afresh (its next evaluation only sets its state)."
)
class AlertRuleUpdateInput:
    symbol: str | None = strawberry.UNSET
    condition: str | None = strawberry.UNSET
    interval: str | None = strawberry.UNSET
    mode: AlertRuleMode | None = strawberry.UNSET
    cooldown_seconds: int | None = strawberry.UNSET
    rearm: float | None = strawberry.UNSET
    expires_at: datetime | None = strawberry.UNSET
    channel_ids: list[strawberry.ID] | None = strawberry.UNSET
    venue: str | None = strawberry.UNSET


@strawberry.type(description="An alert rule and where it stands.")
class AlertRule:
    id: strawberry.ID
    symbol: str
    venue: str
    condition: str
    interval: str | None = strawberry.field(description="Null for price (trade) conditions.")
    mode: AlertRuleMode
    cooldown_seconds: int
    rearm: float | None
    expires_at: datetime | None
    channel_ids: list[strawberry.ID]
    state: AlertRuleState
    fired_count: int
    last_fired_at: datetime | None
    created_at: datetime
    updated_at: datetime


def rule_from_pb(rule: pb.Rule) -> AlertRule:
    return AlertRule(
        id=strawberry.ID(rule.id),
        symbol=rule.symbol,
        venue=rule.venue,
        condition=rule.condition,
        interval=rule.interval or None,
        mode=mode_from_pb(rule.mode),
        cooldown_seconds=rule.cooldown_seconds,
        rearm=rule.rearm if rule.HasField("rearm") else None,
        expires_at=optional_time(rule, "expires_ms"),
        channel_ids=[strawberry.ID(c) for c in rule.channel_ids],
        state=state_from_pb(rule.state),
        fired_count=rule.fired_count,
        last_fired_at=optional_time(rule, "last_fired_ms"),
        created_at=time_from_ms(rule.created_ms),
        updated_at=time_from_ms(rule.updated_ms),
    )


def rule_input_to_pb(given: AlertRuleInput) -> pb.RuleInput:
    """The rule as AlertsService takes it; symbol and venue checked here."""
    message = pb.RuleInput(
        symbol=symbol_argument(given.symbol),
        venue=venue_argument(given.venue),
        condition=given.condition,
        interval=given.interval or "",
        mode=mode_to_pb(given.mode),
        cooldown_seconds=given.cooldown_seconds,
        channel_ids=[str(c) for c in given.channel_ids],
    )
    if given.rearm is not None:
        message.rearm = given.rearm
    if given.expires_at is not None:
        message.expires_ms = epoch_ms(given.expires_at)
    return message


def _given(value: object) -> bool:
    return value is not strawberry.UNSET


def merged_rule_input(rule: pb.Rule, change: AlertRuleUpdateInput) -> pb.RuleInput:
    """The whole new input of ``rule`` with ``change`` applied: fields not given (or null,
    for those that cannot be cleared) keep the rule's values."""
    message = pb.RuleInput(
        symbol=rule.symbol,
        venue=rule.venue,
        condition=rule.condition,
        interval=rule.interval,
        mode=rule.mode,
        cooldown_seconds=rule.cooldown_seconds,
        channel_ids=list(rule.channel_ids),
    )
    if rule.HasField("rearm"):
        message.rearm = rule.rearm
    if rule.HasField("expires_ms"):
        message.expires_ms = rule.expires_ms
    if _given(change.symbol) and change.symbol is not None:
        message.symbol = symbol_argument(change.symbol)
    if _given(change.venue) and change.venue is not None:
        message.venue = venue_argument(change.venue)
    if _given(change.condition) and change.condition is not None:
        message.condition = change.condition
    if _given(change.interval):
        message.interval = change.interval or ""
    if _given(change.mode) and change.mode is not None:
        message.mode = mode_to_pb(change.mode)
    if _given(change.cooldown_seconds) and change.cooldown_seconds is not None:
        message.cooldown_seconds = change.cooldown_seconds
    if _given(change.channel_ids) and change.channel_ids is not None:
        message.channel_ids[:] = [str(c) for c in change.channel_ids]
    if _given(change.rearm):
        if change.rearm is None:
            message.ClearField("rearm")
        else:
            message.rearm = change.rearm
    if _given(change.expires_at):
        if change.expires_at is None:
            message.ClearField("expires_ms")
        else:
            message.expires_ms = epoch_ms(change.expires_at)
    return message


async def create_alert_rule(
    info: Info[Context, None], input: Annotated[AlertRuleInput, strawberry.argument()]
) -> AlertRule:
    request = pb.CreateRuleRequest(input=rule_input_to_pb(input), owner=owner(info))
    try:
        reply = await alerts_stub(info).CreateRule(request, timeout=RPC_TIMEOUT_S)
    except grpc.aio.AioRpcError as error:
        raise alerts_error(error, "createAlertRule") from error
    return rule_from_pb(reply.rule)


async def alert_rules(info: Info[Context, None], symbol: str | None = None) -> list[AlertRule]:
    request = pb.ListRulesRequest(
        owner=owner(info), symbol=symbol_argument(symbol) if symbol is not None else ""
    )
    try:
        reply = await alerts_stub(info).ListRules(request, timeout=RPC_TIMEOUT_S)
    except grpc.aio.AioRpcError as error:
        raise alerts_error(error, "alertRules") from error
    return [rule_from_pb(r) for r in reply.rules]


async def get_rule(info: Info[Context, None], id: str, what: str) -> pb.Rule:
    try:
        reply = await alerts_stub(info).GetRule(
            pb.GetRuleRequest(id=id, owner=owner(info)), timeout=RPC_TIMEOUT_S
        )
    except grpc.aio.AioRpcError as error:
        raise alerts_error(error, what) from error
    return reply.rule


async def alert_rule(info: Info[Context, None], id: strawberry.ID) -> AlertRule:
    return rule_from_pb(await get_rule(info, str(id), "alertRule"))


async def update_alert_rule(
    info: Info[Context, None],
    id: strawberry.ID,
    input: Annotated[AlertRuleUpdateInput, strawberry.argument()],
) -> AlertRule:
    current = await get_rule(info, str(id), "updateAlertRule")
    request = pb.UpdateRuleRequest(
        id=str(id), owner=owner(info), input=merged_rule_input(current, input)
    )
    try:
        reply = await alerts_stub(info).UpdateRule(request, timeout=RPC_TIMEOUT_S)
    except grpc.aio.AioRpcError as error:
        raise alerts_error(error, "updateAlertRule") from error
    return rule_from_pb(reply.rule)


async def pause_alert_rule(info: Info[Context, None], id: strawberry.ID) -> AlertRule:
    try:
        reply = await alerts_stub(info).PauseRule(
            pb.PauseRuleRequest(id=str(id), owner=owner(info)), timeout=RPC_TIMEOUT_S
        )
    except grpc.aio.AioRpcError as error:
        raise alerts_error(error, "pauseAlertRule") from error
    return rule_from_pb(reply.rule)


async def resume_alert_rule(info: Info[Context, None], id: strawberry.ID) -> AlertRule:
    try:
        reply = await alerts_stub(info).ResumeRule(
            pb.ResumeRuleRequest(id=str(id), owner=owner(info)), timeout=RPC_TIMEOUT_S
        )
    except grpc.aio.AioRpcError as error:
        raise alerts_error(error, "resumeAlertRule") from error
    return rule_from_pb(reply.rule)


async def delete_alert_rule(info: Info[Context, None], id: strawberry.ID) -> bool:
    try:
        reply = await alerts_stub(info).DeleteRule(
            pb.DeleteRuleRequest(id=str(id), owner=owner(info)), timeout=RPC_TIMEOUT_S
        )
    except grpc.aio.AioRpcError as error:
        raise alerts_error(error, "deleteAlertRule") from error
    return bool(reply.deleted)


@strawberry.type
class AlertQueries(ChannelQueries):
    alert_rules: list[AlertRule] = strawberry.field(
        resolver=alert_rules, description="Every alert rule, or those of one symbol."
    )
    alert_rule: AlertRule = strawberry.field(
        resolver=alert_rule, description="One alert rule by id (NOT_FOUND if none)."
    )


@strawberry.type
class AlertMutations(ChannelMutations):
    create_alert_rule: AlertRule = strawberry.field(
        resolver=create_alert_rule,
        description="Add a rule, checked first: INVALID_ARGUMENT names an unknown symbol or "
        "indicator, a syntax error or a nonsense parameter, and its column in the condition "
        "(also as `extensions.column`).",
    )
    update_alert_rule: AlertRule = strawberry.field(
        resolver=update_alert_rule,
        description="Change the fields given, checked as at creation.",
    )
    pause_alert_rule: AlertRule = strawberry.field(
        resolver=pause_alert_rule, description="Stop evaluating a rule until it is resumed."
    )
    resume_alert_rule: AlertRule = strawberry.field(
        resolver=resume_alert_rule,
        description="Evaluate a paused rule again; its next evaluation only sets its state.",
    )
    delete_alert_rule: bool = strawberry.field(
        resolver=delete_alert_rule,
        description="Remove a rule (NOT_FOUND if none).",
    )
