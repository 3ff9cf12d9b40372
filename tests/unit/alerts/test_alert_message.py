"""The text and webhook JSON of a firing."""

from __future__ import annotations

import json

from services.alerts.channels import message
from services.alerts.channels.message import Notice
from services.alerts.channels.outcome import Channel, ChannelKind

TRADE_FIRING = Notice(
    idempotency_key="n-42",
    rule_id="rule-7",
    symbol="BTCUSDT",
    condition="price crosses_above 61000",
    price="61000.01",
    time_ms=1723118400123,
    trade_id=3716419131,
)
CANDLE_FIRING = Notice(
    idempotency_key="n-43",
    rule_id="rule-8",
    symbol="ETHUSDT",
    condition="rsi(14) < 30",
    price="2450.5",
    time_ms=1723118459999,
    value="28.4",
)


def test_event_times_are_utc_with_milliseconds() -> None:
    assert message.event_time(1723118400123) == "2024-08-08 12:00:00.123 UTC"
    assert message.event_time(1723118400005) == "2024-08-08 12:00:00.005 UTC"


def test_trade_firing_text_names_symbol_condition_price_time_trade_and_rule() -> None:
    assert message.text(TRADE_FIRING) == (
        "BTCUSDT: price crosses_above 61000\n"
        "price 61000.01 at 2024-08-08 12:00:00.123 UTC (trade 3716419131)\n"
        "rule rule-7"
    )


def test_candle_firing_text_has_its_value_and_no_trade() -> None:
    text = message.text(CANDLE_FIRING)

    assert "trade" not in text
    assert "value 28.4" in text


def test_text_is_cut_to_the_service_limit() -> None:
    long = Notice("k", "r", "BTCUSDT", "price > 1 and " * 400 + "price > 2", "1", 0)

    text = message.text(long, message.DISCORD_MAX_CHARS)

    assert len(text) == message.DISCORD_MAX_CHARS
    assert text.endswith("…")


def test_subject_is_one_line_whatever_the_condition() -> None:
    notice = Notice("k", "r", "BTCUSDT", "price > 1\n  or price < 0", "1", 0)

    assert message.subject(notice) == "QuantFlow alert BTCUSDT: price > 1 or price < 0"


def test_webhook_payload_carries_the_firing_and_the_idempotency_key() -> None:
    assert json.loads(message.webhook_body(TRADE_FIRING)) == {
        "idempotencyKey": "n-42",
        "ruleId": "rule-7",
        "symbol": "BTCUSDT",
        "condition": "price crosses_above 61000",
        "price": "61000.01",
        "time": 1723118400123,
        "tradeId": 3716419131,
        "value": None,
    }


def test_candle_firing_payload_has_a_null_trade_id() -> None:
    assert json.loads(message.webhook_body(CANDLE_FIRING))["tradeId"] is None


def test_webhook_body_is_the_same_bytes_every_time() -> None:
    again = Notice(**{**TRADE_FIRING.__dict__})

    assert message.webhook_body(again) == message.webhook_body(TRADE_FIRING)
    body = message.webhook_body(TRADE_FIRING)
    assert b", " not in body and b": " not in body


def test_channel_repr_masks_secrets_and_discord_urls() -> None:
    telegram = Channel(ChannelKind.TELEGRAM, "12345", "7000000001:AAF-secret-token")
    discord = Channel(ChannelKind.DISCORD, "https://discord.com/api/webhooks/1/tok")

    assert "secret-token" not in repr(telegram)
    assert "12345" in repr(telegram)
    assert "tok" not in repr(discord)
