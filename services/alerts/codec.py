"""Alerts protobuf ↔ domain, at the gRPC edge only."""

from __future__ import annotations

from quantflow.alerts.v1 import alerts_service_pb2 as pb
from services.alerts import firing
from services.alerts.channel_store import StoredChannel
from services.alerts.channels.outcome import ChannelKind
from services.alerts.notifications import FiringRecord
from services.alerts.rule_store import StoredRule
from services.alerts.validation import Mode
from services.common.errors import InvalidArgument

_KINDS = {
    ChannelKind.TELEGRAM: pb.CHANNEL_KIND_TELEGRAM,
    ChannelKind.DISCORD: pb.CHANNEL_KIND_DISCORD,
    ChannelKind.EMAIL: pb.CHANNEL_KIND_EMAIL,
    ChannelKind.WEBHOOK: pb.CHANNEL_KIND_WEBHOOK,
}
_KIND_NAMES = {number: kind.value for kind, number in _KINDS.items()}
_STATES = {
    "ARMED": pb.RULE_STATE_ARMED,
    "DISARMED": pb.RULE_STATE_DISARMED,
    "FINISHED": pb.RULE_STATE_FINISHED,
    "EXPIRED": pb.RULE_STATE_EXPIRED,
}
_DELIVERY = {
    "PENDING": pb.DELIVERY_STATUS_PENDING,
    "DELIVERED": pb.DELIVERY_STATUS_DELIVERED,
    "FAILED": pb.DELIVERY_STATUS_FAILED,
}


def kind_name(kind: int) -> str:
    """The channel kind's name; INVALID_ARGUMENT for none."""
    name = _KIND_NAMES.get(kind)
    if name is None:
        raise InvalidArgument("kind: one of TELEGRAM, DISCORD, EMAIL, WEBHOOK")
    return name


def mode_name(mode: int) -> str:
    return Mode.ONCE.value if mode == pb.RULE_MODE_ONCE else Mode.RECURRING.value


def masked_target(channel: StoredChannel) -> str:
    """A Discord webhook URL ends with its token: answered with the token masked."""
    if channel.kind is not ChannelKind.DISCORD:
        return channel.target
    head, _, _ = channel.target.rstrip("/").rpartition("/")
    return f"{head}/***" if head else "***"


def channel_to_pb(channel: StoredChannel) -> pb.Channel:
    return pb.Channel(
        id=channel.id,
        kind=_KINDS[channel.kind],
        name=channel.name,
        target=masked_target(channel),
        has_secret=bool(channel.secret),
        created_ms=channel.created_ms,
        owner=channel.owner,
    )


def rule_state(rule: StoredRule) -> int:
    if rule.paused and rule.state in ("ARMED", "DISARMED"):
        return int(pb.RULE_STATE_PAUSED)
    return int(_STATES[rule.state])


def rule_to_pb(rule: StoredRule) -> pb.Rule:
    message = pb.Rule(
        id=rule.id,
        symbol=rule.symbol,
        venue=rule.venue,
        condition=rule.condition,
        interval=rule.interval or "",
        mode=pb.RULE_MODE_ONCE if rule.mode is Mode.ONCE else pb.RULE_MODE_RECURRING,
        cooldown_seconds=rule.cooldown_ms // 1000,
        channel_ids=list(rule.channel_ids),
        state=rule_state(rule),
        created_ms=rule.created_ms,
        updated_ms=rule.updated_ms,
        fired_count=rule.fired_count,
        owner=rule.owner,
    )
    if rule.rearm is not None:
        message.rearm = rule.rearm
    if rule.expires_ms is not None:
        message.expires_ms = rule.expires_ms
    if rule.last_fired_ms is not None:
        message.last_fired_ms = rule.last_fired_ms
    return message


def firing_record_to_pb(record: FiringRecord) -> pb.Firing:
    message = pb.Firing(
        id=str(record.id),
        rule_id=record.rule_id,
        symbol=record.symbol,
        time_ms=record.time_ms,
        price=record.price,
        value=record.value,
        condition=record.condition,
        recorded_ms=record.recorded_ms,
    )
    if record.trade_id is not None:
        message.trade_id = record.trade_id
    if record.candle_open_ms is not None:
        message.candle_open_ms = record.candle_open_ms
    for delivery in record.deliveries:
        sent = message.deliveries.add(
            id=str(delivery.id),
            channel_id=delivery.channel_id,
            channel_kind=_KINDS[delivery.channel_kind],
            channel_name=delivery.channel_name,
            status=_DELIVERY[delivery.status],
            reason=delivery.reason,
            idempotency_key=delivery.idempotency_key,
            possible_duplicate=delivery.possible_duplicate,
        )
        if delivery.delivered_ms is not None:
            sent.delivered_ms = delivery.delivered_ms
        for attempt in delivery.attempts:
            sent.attempts.add(
                number=attempt.number,
                started_ms=attempt.started_ms,
                finished_ms=attempt.finished_ms or 0,
                outcome=attempt.outcome,
                detail=attempt.detail,
            )
    return message


def history_firing_to_pb(found: firing.Firing, condition: str) -> pb.Firing:
    """A firing RuleHistory found (not recorded: no id, no deliveries)."""
    message = pb.Firing(
        symbol=found.symbol,
        time_ms=found.time_ms,
        price=found.price,
        value=found.value,
        condition=condition,
    )
    if found.trade_id is not None:
        message.trade_id = found.trade_id
    if found.candle_open_ms is not None:
        message.candle_open_ms = found.candle_open_ms
    return message
