"""Unit tests for SubscriptionChanges (services/ingest/market_subscriptions.py): what run-time
requests change in the configured streams, and how that is kept."""

from __future__ import annotations

import pytest

from services.ingest.market_subscriptions import SubscriptionChanges

CONFIGURED = ("btcusdt@trade", "btcusdt@kline_1m")


def test_subscribing_beyond_the_configuration_is_kept_as_added() -> None:
    changes = SubscriptionChanges().after_subscribe(CONFIGURED, ["ethusdt@trade", "btcusdt@trade"])
    assert changes == SubscriptionChanges(added=frozenset({"ethusdt@trade"}))
    assert changes.applied_to(CONFIGURED) == [
        "btcusdt@kline_1m",
        "btcusdt@trade",
        "ethusdt@trade",
    ]


def test_unsubscribing_a_configured_stream_is_kept_and_resubscribing_forgets_it() -> None:
    dropped = SubscriptionChanges().after_unsubscribe(CONFIGURED, ["btcusdt@kline_1m"])
    assert dropped.removed == {"btcusdt@kline_1m"}
    assert dropped.applied_to(CONFIGURED) == ["btcusdt@trade"]
    assert dropped.after_subscribe(CONFIGURED, ["btcusdt@kline_1m"]) == SubscriptionChanges()


def test_unsubscribing_an_added_stream_forgets_it_without_marking_it_removed() -> None:
    added = SubscriptionChanges().after_subscribe(CONFIGURED, ["ethusdt@trade"])
    assert added.after_unsubscribe(CONFIGURED, ["ethusdt@trade"]) == SubscriptionChanges()


def test_changes_apply_to_a_configuration_changed_since() -> None:
    changes = SubscriptionChanges(frozenset({"ethusdt@trade"}), frozenset({"btcusdt@kline_1m"}))
    later = (*CONFIGURED, "dotusdt@aggTrade")
    assert changes.applied_to(later) == ["btcusdt@trade", "dotusdt@aggTrade", "ethusdt@trade"]


def test_changes_round_trip_through_json() -> None:
    changes = SubscriptionChanges(
        frozenset({"ethusdt@kline_1M", "ethusdt@trade"}), frozenset({"btcusdt@trade"})
    )
    assert SubscriptionChanges.from_json(changes.to_json()) == changes


@pytest.mark.parametrize(
    ("data", "named"),
    [
        (b"[]", "not an object"),
        (b'{"added": "btcusdt@trade"}', "added is not a list"),
        (b'{"added": ["btcusdt@depth"]}', "'btcusdt@depth' is not a Binance stream name"),
        (b'{"removed": ["BTCUSDT@trade"]}', "'BTCUSDT@trade' is not a Binance stream name"),
        (b'{"removed": [7]}', "7 is not a Binance stream name"),
    ],
)
def test_unreadable_changes_are_refused_naming_the_entry(data: bytes, named: str) -> None:
    with pytest.raises(ValueError, match=named):
        SubscriptionChanges.from_json(data)
