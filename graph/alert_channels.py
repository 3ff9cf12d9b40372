"""Notification channels: ``createNotificationChannel``, ``notificationChannels``,
``deleteNotificationChannel`` and ``sendTestNotification`` over AlertsService."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Annotated

import grpc
import strawberry
from strawberry.types import Info

from graph.alert_rpc import RPC_TIMEOUT_S, alerts_error, alerts_stub, time_from_ms
from graph.context import Context
from graph.principal import owner
from quantflow.alerts.v1 import alerts_service_pb2 as pb

# A test notification runs the channel's own retry rules (a 429's retry_after …) while the
# caller waits.
_TEST_NOTIFICATION_TIMEOUT_S = 60.0


@strawberry.enum(description="Where a channel's notifications go.")
class NotificationChannelKind(enum.Enum):
    TELEGRAM = "TELEGRAM"
    DISCORD = "DISCORD"
    EMAIL = "EMAIL"
    WEBHOOK = "WEBHOOK"


@strawberry.enum(description="PENDING: not sent yet, or to be retried. FAILED: given up.")
class DeliveryStatus(enum.Enum):
    PENDING = "PENDING"
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"


def channel_kind_to_pb(kind: NotificationChannelKind) -> pb.ChannelKind.ValueType:
    return pb.ChannelKind.Value(f"CHANNEL_KIND_{kind.value}")


def channel_kind_from_pb(value: int) -> NotificationChannelKind:
    return NotificationChannelKind(pb.ChannelKind.Name(value).removeprefix("CHANNEL_KIND_"))


def delivery_status_from_pb(value: int) -> DeliveryStatus:
    if value == pb.DELIVERY_STATUS_UNSPECIFIED:
        return DeliveryStatus.PENDING  # the zero value: nothing sent yet
    return DeliveryStatus(pb.DeliveryStatus.Name(value).removeprefix("DELIVERY_STATUS_"))


@strawberry.input(description="A place notifications go to.")
class NotificationChannelInput:
    kind: NotificationChannelKind
    name: str = strawberry.field(description="Yours to choose, shown in `notifications`.")
    target: str = strawberry.field(
        description="The chat id (TELEGRAM), the webhook URL (DISCORD, WEBHOOK), the address "
        "(EMAIL; sent through the SMTP server in the settings)."
    )
    secret: str | None = strawberry.field(
        default=None,
        description="The bot token (TELEGRAM), the HMAC-SHA256 signing key (WEBHOOK: each "
        "POST carries `X-QuantFlow-Signature: sha256=<hex of the body's HMAC>`); unused by "
        "DISCORD and EMAIL. Never answered back.",
    )


@strawberry.type(description="A place notifications go to.")
class NotificationChannel:
    id: strawberry.ID
    kind: NotificationChannelKind
    name: str
    target: str = strawberry.field(
        description="Chat id, URL or address as given; a Discord webhook URL is masked."
    )
    has_secret: bool
    created_at: datetime


def channel_from_pb(channel: pb.Channel) -> NotificationChannel:
    return NotificationChannel(
        id=strawberry.ID(channel.id),
        kind=channel_kind_from_pb(channel.kind),
        name=channel.name,
        target=channel.target,
        has_secret=channel.has_secret,
        created_at=time_from_ms(channel.created_ms),
    )


def channel_input_to_pb(given: NotificationChannelInput, owner: str) -> pb.CreateChannelRequest:
    return pb.CreateChannelRequest(
        kind=channel_kind_to_pb(given.kind),
        name=given.name,
        target=given.target,
        secret=given.secret or "",
        owner=owner,
    )


@strawberry.type(description="What came of a test notification sent now.")
class TestNotificationResult:
    status: DeliveryStatus = strawberry.field(description="DELIVERED or FAILED.")
    delivered: bool
    reason: str | None = strawberry.field(description="Why it failed; null when delivered.")
    attempts: int = strawberry.field(description="Sends tried, retries included.")


async def create_notification_channel(
    info: Info[Context, None], input: Annotated[NotificationChannelInput, strawberry.argument()]
) -> NotificationChannel:
    try:
        reply = await alerts_stub(info).CreateChannel(
            channel_input_to_pb(input, owner(info)), timeout=RPC_TIMEOUT_S
        )
    except grpc.aio.AioRpcError as error:
        raise alerts_error(error, "createNotificationChannel") from error
    return channel_from_pb(reply.channel)


async def notification_channels(info: Info[Context, None]) -> list[NotificationChannel]:
    try:
        reply = await alerts_stub(info).ListChannels(
            pb.ListChannelsRequest(owner=owner(info)), timeout=RPC_TIMEOUT_S
        )
    except grpc.aio.AioRpcError as error:
        raise alerts_error(error, "notificationChannels") from error
    return [channel_from_pb(c) for c in reply.channels]


async def delete_notification_channel(info: Info[Context, None], id: strawberry.ID) -> bool:
    try:
        reply = await alerts_stub(info).DeleteChannel(
            pb.DeleteChannelRequest(id=str(id), owner=owner(info)), timeout=RPC_TIMEOUT_S
        )
    except grpc.aio.AioRpcError as error:
        raise alerts_error(error, "deleteNotificationChannel") from error
    return bool(reply.deleted)


async def send_test_notification(
    info: Info[Context, None], channel_id: strawberry.ID
) -> TestNotificationResult:
    request = pb.SendTestNotificationRequest(channel_id=str(channel_id), owner=owner(info))
    try:
        reply = await alerts_stub(info).SendTestNotification(
            request, timeout=_TEST_NOTIFICATION_TIMEOUT_S
        )
    except grpc.aio.AioRpcError as error:
        raise alerts_error(error, "sendTestNotification") from error
    status = delivery_status_from_pb(reply.status)
    return TestNotificationResult(
        status=status,
        delivered=status is DeliveryStatus.DELIVERED,
        reason=reply.reason or None,
        attempts=reply.attempts,
    )


@strawberry.type
class ChannelQueries:
    notification_channels: list[NotificationChannel] = strawberry.field(
        resolver=notification_channels, description="Every notification channel."
    )


@strawberry.type
class ChannelMutations:
    create_notification_channel: NotificationChannel = strawberry.field(
        resolver=create_notification_channel,
        description="Add a place notifications go to; INVALID_ARGUMENT names a bad target.",
    )
    delete_notification_channel: bool = strawberry.field(
        resolver=delete_notification_channel,
        description="Remove a channel (NOT_FOUND if none).",
    )
    send_test_notification: TestNotificationResult = strawberry.field(
        resolver=send_test_notification,
        description="Send a test message through a channel now, with the channel's own retry "
        "rules, and answer what came of it.",
    )
