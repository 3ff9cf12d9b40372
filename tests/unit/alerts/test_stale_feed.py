"""Stale-feed rules, ``no_trade(5m)`` (services/alerts/stale_feed.py)."""

from __future__ import annotations

from services.alerts.stale_feed import LastTrade, parse_stale_condition, silence

MINUTE = 60_000
CREATED = 1_000_000


def test_the_silence_parses_from_seconds_to_days() -> None:
    assert parse_stale_condition("no_trade(5m)") == 5 * MINUTE
    assert parse_stale_condition(" no_trade( 2h ) ") == 2 * 60 * MINUTE
    assert parse_stale_condition("no_trade(30s)") == 30_000


def test_a_feed_is_stale_once_its_last_trade_is_as_old_as_the_silence() -> None:
    last = LastTrade(42, "61000.5", CREATED + MINUTE)
    at = CREATED + 6 * MINUTE
    assert silence("binance", 5 * MINUTE, last, CREATED, None, 0, at - 1) is None
    found = silence("binance", 5 * MINUTE, last, CREATED, None, 0, at + 10)
    assert found is not None
    assert (found.event_key, found.time_ms, found.price, found.trade_id) == (
        "stale:binance:42",
        at,
        "61000.5",
        42,
    )


def test_one_silence_has_one_key_however_often_it_is_checked() -> None:
    last = LastTrade(42, "1", CREATED)
    keys = {
        found.event_key
        for now in range(CREATED + MINUTE, CREATED + 10 * MINUTE, 30_000)
        if (found := silence("binance", MINUTE, last, CREATED, None, 0, now)) is not None
    }
    assert keys == {"stale:binance:42"}


def test_a_symbol_never_traded_counts_from_the_rules_creation() -> None:
    assert silence("binance", MINUTE, None, CREATED, None, 0, CREATED + MINUTE - 1) is None
    found = silence("binance", MINUTE, None, CREATED, None, 0, CREATED + MINUTE)
    assert found is not None and found.event_key == "stale:binance:none"


def test_the_cooldown_holds_back_a_silence_soon_after_the_last_firing() -> None:
    last = LastTrade(43, "1", CREATED + MINUTE)
    fired = CREATED + MINUTE // 2
    held = silence("binance", MINUTE, last, CREATED, fired, 10 * MINUTE, CREATED + 3 * MINUTE)
    assert held is None
    free = silence("binance", MINUTE, last, CREATED, fired, 0, CREATED + 3 * MINUTE)
    assert free is not None
