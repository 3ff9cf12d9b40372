"""services/ingest/connection_rules.py: Binance's connection rules with time and chance
given by the test (no sockets, no sleeping)."""

from __future__ import annotations

import itertools

import pytest

from services.common.names import stream_kind
from services.ingest.connection_rules import (
    CONNECT_ATTEMPTS_PER_WINDOW,
    CONNECT_WINDOW_S,
    CONTROL_MESSAGES_PER_SECOND,
    ShardPlan,
    SlidingWindowLimit,
    StallWatchdog,
    connect_budget,
    control_pacer,
    full_jitter_backoff,
    rotation_deadline,
    split_url_streams,
    stall_timeout_s,
    stream_of,
    subscription_changes,
)


def _most_in_any_window(times: list[float], window_s: float) -> int:
    return max(sum(1 for t in times if start <= t < start + window_s) for start in times)


def test_control_pacer_keeps_50_back_to_back_messages_under_5_in_any_second() -> None:
    pacer = control_pacer()
    now, sent = 0.0, []
    for _ in range(50):
        now += pacer.delay(now)  # the sender waits exactly as long as told
        pacer.record(now)
        sent.append(now)
    assert _most_in_any_window(sent, 1.0) == CONTROL_MESSAGES_PER_SECOND < 5
    # Paced, not throttled to a crawl: 50 messages take about 50 / 3 seconds.
    assert sent[-1] == pytest.approx((50 - 1) // CONTROL_MESSAGES_PER_SECOND, abs=1.0)


def test_sliding_window_never_lets_a_burst_straddle_a_window_edge() -> None:
    # A token bucket of 5 lets 5 through at 0.99 s and 5 more at 1.0 s: 10 in 0.02 s.
    limit = SlidingWindowLimit(5, 1.0)
    for _ in range(5):
        limit.record(0.99)
    assert limit.delay(1.0) == pytest.approx(0.99)
    assert limit.delay(1.99) == 0.0


def test_connect_budget_allows_300_attempts_then_waits_for_the_oldest_to_age_out() -> None:
    budget = connect_budget()
    for attempt in range(CONNECT_ATTEMPTS_PER_WINDOW):
        now = attempt * 0.1
        assert budget.delay(now) == 0.0
        budget.record(now)
    now = 30.0
    assert budget.delay(now) == pytest.approx(CONNECT_WINDOW_S - now)
    assert budget.delay(CONNECT_WINDOW_S) == 0.0  # the first attempt is 5 minutes old


def test_full_jitter_backoff_spans_zero_to_a_doubling_ceiling_capped_at_30s() -> None:
    assert full_jitter_backoff(1, lambda: 0.0) == 0.0
    assert full_jitter_backoff(1, lambda: 0.999) == pytest.approx(0.4995)
    assert full_jitter_backoff(3, lambda: 0.5) == pytest.approx(1.0)  # half of 0.5 × 4
    assert full_jitter_backoff(30, lambda: 0.999) == pytest.approx(29.97)


def test_rotation_comes_before_24_hours_with_up_to_5_percent_jitter() -> None:
    after = 23 * 3600.0
    assert rotation_deadline(100.0, after, lambda: 0.0) == 100.0 + after
    earliest = rotation_deadline(100.0, after, lambda: 0.999)
    assert 100.0 + after * 0.95 <= earliest < 100.0 + after


def test_stall_timeout_is_generous_for_trades_and_two_intervals_plus_grace_for_klines() -> None:
    assert stall_timeout_s("btcusdt@trade", 60.0) == 60.0
    assert stall_timeout_s("btcusdt@aggTrade", 60.0) == 60.0
    assert stall_timeout_s("btcusdt@kline_1m", 60.0) == 2 * 60 + 60.0
    assert stall_timeout_s("btcusdt@kline_1s", 10.0) == 12.0
    assert stall_timeout_s("btcusdt@kline_1h@+08:00", 60.0) == 2 * 3600 + 60.0


def test_watchdog_flags_a_silent_stream_and_forgets_it_when_data_comes() -> None:
    dog = StallWatchdog(base_s=60.0)
    dog.watch("btcusdt@trade", 0.0)
    dog.watch("ethusdt@trade", 0.0)
    dog.saw("btcusdt@trade", 50.0)
    assert dog.stalled(59.0) == []
    assert dog.stalled(60.0) == ["ethusdt@trade"]
    dog.saw("ethusdt@trade", 61.0)
    assert dog.stalled(100.0) == []
    assert dog.stalled(110.0) == ["btcusdt@trade"]


def test_watchdog_doubles_patience_for_a_stream_that_stays_silent_after_a_replacement() -> None:
    dog = StallWatchdog(base_s=60.0, max_patience_s=200.0)
    dog.watch("quietusdt@trade", 0.0)
    dog.replaced(["quietusdt@trade"], 60.0)
    assert dog.stalled(179.0) == [] and dog.stalled(180.0) == ["quietusdt@trade"]
    dog.replaced(["quietusdt@trade"], 180.0)
    assert dog.stalled(379.0) == [] and dog.stalled(380.0) == ["quietusdt@trade"]  # capped
    dog.saw("quietusdt@trade", 400.0)  # data again: back to the normal timeout
    assert dog.stalled(460.0) == ["quietusdt@trade"]
    dog.forget("quietusdt@trade")
    assert dog.stalled(10_000.0) == []


def test_shard_plan_puts_1025_streams_on_two_connections_of_at_most_1024() -> None:
    plan = ShardPlan()
    streams = [f"s{i:04d}usdt@trade" for i in range(1025)]
    added = plan.add(streams)
    assert sorted(len(s) for s in added.values()) == [1, 1024]
    assert set().union(*plan.shards.values()) == set(streams)


def test_shard_plan_fills_room_left_by_removals_before_opening_a_connection() -> None:
    plan = ShardPlan(capacity=2)
    plan.add(["a@trade", "b@trade", "c@trade"])
    assert plan.remove(["a@trade", "c@trade"]) == {0: ["a@trade"], 1: ["c@trade"]}
    assert list(plan.shards) == [0]  # the emptied connection is gone
    assert plan.add(["d@trade", "e@trade", "b@trade"]) == {0: ["d@trade"], 2: ["e@trade"]}
    assert plan.shard_of("e@trade") == 2


def test_subscription_changes_coalesce_many_requests_into_one_subscribe_and_unsubscribe() -> None:
    wanted = {f"s{i}usdt@trade" for i in range(50)} - {"s0usdt@trade"}
    add, remove = subscription_changes(wanted, {"s0usdt@trade", "s1usdt@trade"})
    assert len(add) == 48 and "s1usdt@trade" not in add
    assert remove == ["s0usdt@trade"]


def test_url_holds_streams_up_to_its_length_budget_and_the_rest_are_subscribed() -> None:
    streams = [f"s{i:04d}usdt@trade" for i in range(200)]  # 15 characters + "/" each
    in_url, rest = split_url_streams(streams, 160)
    assert in_url == streams[:10] and rest == streams[10:]


def test_stream_of_reads_the_combined_envelope_prefix_only() -> None:
    assert stream_of('{"stream":"btcusdt@trade","data":{"e":"trade"}}') == "btcusdt@trade"
    assert stream_of('{"result":null,"id":1}') is None
    assert stream_of('{"e":"trade"}') is None


@pytest.mark.parametrize(
    "kind",
    ["trade", "aggTrade", "bookTicker", "ticker", "miniTicker"]
    + [f"kline_{i}" for i in "1s 1m 3m 5m 15m 30m 1h 2h 4h 6h 8h 12h 1d 3d 1w 1M".split()],
)
def test_every_capturable_stream_kind_is_accepted(kind: str) -> None:
    assert stream_kind(kind)


@pytest.mark.parametrize("kind", ["depth", "kline_2m", "trades", "TRADE", "kline_1m@+08:00", ""])
def test_other_stream_kinds_are_refused_with_the_list_of_kinds(kind: str) -> None:
    with pytest.raises(ValueError, match="use trade, aggTrade, kline_<interval>"):
        stream_kind(kind)


def test_sliding_window_needs_a_positive_limit_and_window() -> None:
    for limit, window in itertools.product((0, 1), (0.0, 1.0)):
        if limit and window:
            continue
        with pytest.raises(ValueError):
            SlidingWindowLimit(limit, window)
