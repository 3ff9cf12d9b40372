"""QUANTFLOW_RETENTION: parsing, and the rule that a rollup's sources outlive it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.storage.retention import builds, check_rollups, parse_retention

CAPTURED = {"trade", "aggtrade", "kline_1m"}


def test_a_policy_parses_kinds_and_lengths_and_prints_back() -> None:
    policy = parse_retention("trade=7d, aggTrade=30d,kline_1m=52w,kline_1h=forever,ticker=12h")
    assert policy.keep == {
        "trade": timedelta(days=7),
        "aggtrade": timedelta(days=30),
        "kline_1m": timedelta(weeks=52),
        "kline_1h": None,
        "ticker": timedelta(hours=12),
    }
    assert policy.expiring() == {k: v for k, v in policy.keep.items() if v is not None}
    assert str(policy) == "trade=1w,aggtrade=30d,kline_1m=52w,kline_1h=forever,ticker=12h"
    assert parse_retention("").keep == {}


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("trade", "kind=length"),
        ("trades=7d", "'trades'"),
        ("kline_2m=7d", "'2m'"),
        ("trade=7 days", "'7' is not a length"),
        ("trade=0d", "'0d'"),
        ("trade=7y", "'7y'"),
        ("trade=1d,trade=2d", "trade twice"),
    ],
)
def test_a_bad_policy_is_refused_naming_the_bad_part(text: str, named: str) -> None:
    with pytest.raises(ValueError, match=named):
        parse_retention(text)


def test_what_builds_what() -> None:
    assert builds("kline_1m", "kline_1h") and builds("trade", "kline_1w")
    assert builds("kline_1d", "kline_1w") and builds("kline_1h", "kline_1M")
    assert not builds("kline_3d", "kline_1w")
    assert not builds("kline_1h", "kline_1m") and not builds("kline_1m", "kline_1m")
    assert not builds("aggtrade", "kline_1h") and not builds("kline_1M", "kline_1w")


def test_an_unstored_interval_kept_longer_than_every_source_is_refused() -> None:
    policy = parse_retention("trade=7d,kline_1m=365d,kline_1h=forever")
    with pytest.raises(ValueError) as refused:
        check_rollups(policy, CAPTURED)
    message = str(refused.value)
    assert "kline_1h=forever" in message
    assert "kline_1m (365d)" in message and "trade (1w)" in message


def test_an_unstored_interval_is_fine_when_one_source_is_kept_as_long() -> None:
    check_rollups(parse_retention("trade=7d,kline_1m=365d,kline_1h=365d"), CAPTURED)
    # Trades are kept forever (not named), and hourly candles can be built from them.
    check_rollups(parse_retention("kline_1m=30d,kline_1h=forever"), CAPTURED)


def test_a_stored_interval_needs_nothing_from_finer_kinds() -> None:
    check_rollups(
        parse_retention("trade=7d,kline_1m=365d,kline_1h=forever"), CAPTURED | {"kline_1h"}
    )
