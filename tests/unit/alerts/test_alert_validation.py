"""What a channel or rule must be before it is stored (services/alerts/validation.py)."""

from __future__ import annotations

from typing import Any

import pytest

from services.alerts.channels.outcome import ChannelKind
from services.alerts.validation import Mode, check_channel, check_rule, owner_of
from services.common.errors import InvalidArgument

NOW = 1_723_161_255_000
CHANNEL = "0b8f3c1e-6a43-4a4f-9d7b-1d2e3f405162"


def _rule(**given: Any) -> Any:
    fields: dict[str, Any] = {
        "symbol": "btcusdt",
        "venue": "",
        "condition": "price crosses_above 2680",
        "interval": "",
        "mode": "RECURRING",
        "cooldown_seconds": 0,
        "rearm": None,
        "expires_ms": None,
        "channel_ids": [CHANNEL],
        "now_ms": NOW,
    }
    return check_rule(**{**fields, **given})


def test_a_trade_rule_is_stored_upper_cased_on_binance_without_an_interval() -> None:
    rule = _rule(cooldown_seconds=90, mode="ONCE")
    assert (rule.symbol, rule.venue, rule.interval) == ("BTCUSDT", "binance", None)
    assert (rule.mode, rule.cooldown_ms) == (Mode.ONCE, 90_000)
    assert [str(c) for c in rule.channel_ids] == [CHANNEL]


def test_a_candle_rule_keeps_its_binance_interval() -> None:
    assert _rule(condition="rsi(14) < 30", interval="1h").interval == "1h"


@pytest.mark.parametrize(
    ("given", "problem"),
    [
        ({"condition": "price crosses_above"}, "at column"),
        ({"condition": "frob(3) > 1", "interval": "1m"}, "at column 1"),
        ({"condition": "price > 2680 and close > 3"}, "at column"),
        ({"condition": "rsi(14) < 30"}, "interval: 'rsi(14) < 30' is evaluated on closed candles"),
        ({"condition": "rsi(14) < 30", "interval": "7m"}, "'7m' is not a Binance interval"),
        ({"interval": "1m"}, "leave the interval empty"),
        ({"condition": "  "}, "condition: required"),
        ({"symbol": "BTC-USDT"}, "symbol:"),
        ({"venue": "kraken"}, "venue:"),
        ({"cooldown_seconds": -1}, "cooldownSeconds"),
        ({"expires_ms": NOW}, "expiresAt: must be in the future"),
        ({"rearm": float("nan")}, "rearm"),
        ({"channel_ids": ["nope"]}, "channelIds: 'nope' is not an id"),
        ({"channel_ids": [CHANNEL, CHANNEL]}, "at most once"),
        ({"condition": "no_trade(5x)"}, "no_trade takes one duration"),
        ({"condition": "no_trade(1s)"}, "10s to 7d"),
        ({"condition": "no_trade(5m)", "interval": "1m"}, "leave the interval empty"),
    ],
)
def test_a_bad_rule_is_refused_naming_the_field_and_the_problem(
    given: dict[str, Any], problem: str
) -> None:
    with pytest.raises(InvalidArgument) as refused:
        _rule(**given)
    assert problem in str(refused.value)


def test_a_condition_error_names_the_column_in_the_text_as_given() -> None:
    with pytest.raises(InvalidArgument) as refused:
        _rule(condition="price > 2680 and frob(3) > 1")
    assert str(refused.value).endswith("at column 18")


def test_a_stale_feed_rule_has_its_silence_and_no_parsed_condition() -> None:
    rule = _rule(condition="no_trade(5m)")
    assert (rule.parsed, rule.stale_after_ms, rule.interval) == (None, 300_000, None)


def test_channels_are_checked_per_kind() -> None:
    telegram = check_channel("TELEGRAM", " desk ", "-1001234567890", "123:abc")
    assert (telegram.kind, telegram.name) == (ChannelKind.TELEGRAM, "desk")
    assert check_channel("EMAIL", "me", "me@example.org", "").target == "me@example.org"
    for kind, target, secret, problem in [
        ("TELEGRAM", "not a chat", "t", "Telegram chat id"),
        ("TELEGRAM", "12345", "", "bot token is required"),
        ("DISCORD", "ftp://x", "", "Discord webhook URL"),
        ("WEBHOOK", "http://127.0.0.1:9/h", "", "signing key is required"),
        ("EMAIL", "nobody", "", "not an email address"),
        ("SMS", "1", "", "kind: one of"),
    ]:
        with pytest.raises(InvalidArgument) as refused:
            check_channel(kind, "n", target, secret)
        assert problem in str(refused.value), kind


def test_an_empty_owner_is_the_local_user() -> None:
    assert owner_of("") == "local"
    assert owner_of(" alice ") == "alice"
