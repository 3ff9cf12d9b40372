"""Alerts protobuf at the gRPC edge (services/alerts/codec.py): secrets never go back out."""

from __future__ import annotations

import pytest

from quantflow.alerts.v1 import alerts_service_pb2 as pb
from services.alerts import codec
from services.alerts.channel_store import StoredChannel
from services.alerts.channels.outcome import ChannelKind
from services.common.errors import InvalidArgument


def _channel(kind: ChannelKind, target: str, secret: str = "") -> StoredChannel:
    return StoredChannel("id", "local", kind, "n", target, secret, 0)


def test_a_discord_webhook_is_answered_with_its_token_masked() -> None:
    url = "https://discord.com/api/webhooks/123456/very-secret-token"
    answered = codec.channel_to_pb(_channel(ChannelKind.DISCORD, url))
    assert answered.target == "https://discord.com/api/webhooks/123456/***"
    assert "very-secret-token" not in str(answered)


def test_a_secret_is_never_answered_only_that_there_is_one() -> None:
    answered = codec.channel_to_pb(_channel(ChannelKind.TELEGRAM, "4242", "123:bot-token"))
    assert answered.has_secret and answered.target == "4242"
    assert "bot-token" not in str(answered)
    assert "bot-token" not in repr(_channel(ChannelKind.TELEGRAM, "4242", "123:bot-token"))


def test_an_unspecified_channel_kind_is_refused() -> None:
    with pytest.raises(InvalidArgument):
        codec.kind_name(pb.CHANNEL_KIND_UNSPECIFIED)
    assert codec.kind_name(pb.CHANNEL_KIND_EMAIL) == "EMAIL"


def test_an_unspecified_mode_is_recurring() -> None:
    assert codec.mode_name(pb.RULE_MODE_UNSPECIFIED) == "RECURRING"
    assert codec.mode_name(pb.RULE_MODE_ONCE) == "ONCE"
