"""Unit tests for services/common/names.py: every name on the bus, spelled once."""

from __future__ import annotations

import pytest

from services.common import names

# --- default (no namespace) names --------------------------------------------------------


def test_market_stream_without_namespace_is_market() -> None:
    assert names.market_stream() == "MARKET"


def test_deadletter_stream_without_namespace_is_deadletter() -> None:
    assert names.deadletter_stream() == "DEADLETTER"


def test_trade_subject_for_btcusdt_is_market_binance_trade_btcusdt() -> None:
    assert names.trade_subject("BTCUSDT") == "market.binance.trade.BTCUSDT"


def test_market_subject_with_explicit_tokens_builds_dotted_subject() -> None:
    assert names.market_subject("binance", "trade", "BTCUSDT") == "market.binance.trade.BTCUSDT"


def test_market_subjects_bind_everything_under_market() -> None:
    assert names.market_subjects() == ["market.>"]


def test_deadletter_subjects_bind_everything_under_deadletter() -> None:
    assert names.deadletter_subjects() == ["deadletter.>"]


def test_deadletter_subject_for_binance_is_deadletter_binance() -> None:
    assert names.deadletter_subject("binance") == "deadletter.binance"


def test_storage_trades_durable_without_namespace_is_storage_trades() -> None:
    assert names.storage_trades_durable() == "storage_trades"


def test_trade_msg_id_is_venue_symbol_trade_id() -> None:
    assert names.trade_msg_id("binance", "BTCUSDT", 123) == "binance:BTCUSDT:trade:123"


def test_trade_msg_id_with_id_beyond_32_bits_keeps_every_digit() -> None:
    expected = "binance:BTCUSDT:trade:1099511627777"
    assert names.trade_msg_id("binance", "BTCUSDT", 2**40 + 1) == expected


def test_venue_binance_and_trade_constants() -> None:
    assert names.VENUE_BINANCE == "binance"
    assert names.TRADE == "trade"


# --- symbol upper-casing -----------------------------------------------------------------


def test_trade_subject_with_lowercase_symbol_is_upper_cased() -> None:
    assert names.trade_subject("btcusdt") == "market.binance.trade.BTCUSDT"


def test_trade_msg_id_with_lowercase_symbol_is_upper_cased() -> None:
    assert names.trade_msg_id("binance", "btcusdt", 123) == "binance:BTCUSDT:trade:123"


def test_trade_subject_with_mixed_case_symbol_matches_upper_case_subject() -> None:
    assert names.trade_subject("BtcUsdt") == names.trade_subject("BTCUSDT")


# --- namespaced forms --------------------------------------------------------------------


def test_market_stream_with_namespace_t1_is_t1_market() -> None:
    assert names.market_stream("t1") == "T1_MARKET"


def test_deadletter_stream_with_namespace_t1_is_t1_deadletter() -> None:
    assert names.deadletter_stream("t1") == "T1_DEADLETTER"


def test_trade_subject_with_namespace_t1_is_prefixed() -> None:
    assert names.trade_subject("BTCUSDT", namespace="t1") == "t1.market.binance.trade.BTCUSDT"


def test_market_subjects_with_namespace_t1_are_prefixed() -> None:
    assert names.market_subjects("t1") == ["t1.market.>"]


def test_deadletter_subject_with_namespace_t1_is_prefixed() -> None:
    assert names.deadletter_subject("binance", namespace="t1") == "t1.deadletter.binance"
    assert names.deadletter_subjects("t1") == ["t1.deadletter.>"]


def test_storage_trades_durable_with_namespace_t1_is_t1_storage_trades() -> None:
    assert names.storage_trades_durable("t1") == "t1_storage_trades"


def test_namespace_with_digits_and_underscore_is_accepted() -> None:
    assert names.market_stream("run_42") == "RUN_42_MARKET"


def test_namespaced_trade_subject_is_matched_by_namespaced_market_subjects_only() -> None:
    # The namespace is a prefix, so the un-namespaced "market.>" must not cover it.
    subject = names.trade_subject("BTCUSDT", namespace="t1")
    assert subject.startswith(names.market_subjects("t1")[0].removesuffix(">"))
    assert not subject.startswith(names.market_subjects()[0].removesuffix(">"))


# --- rejection of bad namespaces and tokens ----------------------------------------------


@pytest.mark.parametrize("namespace", ["a.b", "A", "x>", "t*", "has space", "t-1"])
def test_market_stream_with_bad_namespace_raises_value_error(namespace: str) -> None:
    with pytest.raises(ValueError, match="namespace"):
        names.market_stream(namespace)


@pytest.mark.parametrize("namespace", ["a.b", "A", "x>"])
def test_trade_subject_with_bad_namespace_raises_value_error(namespace: str) -> None:
    with pytest.raises(ValueError, match="namespace"):
        names.trade_subject("BTCUSDT", namespace=namespace)


@pytest.mark.parametrize("namespace", ["a.b", "A", "x>"])
def test_kind_filter_and_deadletter_with_bad_namespace_raise_value_error(namespace: str) -> None:
    with pytest.raises(ValueError):
        names.kind_filter_subject("trade", namespace=namespace)
    with pytest.raises(ValueError):
        names.deadletter_stream(namespace)
    with pytest.raises(ValueError):
        names.deadletter_subjects(namespace)
    with pytest.raises(ValueError):
        names.market_subjects(namespace)


@pytest.mark.parametrize("symbol", ["a.b", "x>", "*", "BTC USDT", "BTC-USDT", ""])
def test_trade_subject_with_bad_symbol_token_raises_value_error(symbol: str) -> None:
    with pytest.raises(ValueError, match="token"):
        names.trade_subject(symbol)


@pytest.mark.parametrize(
    ("venue", "kind"), [("bin.ance", "trade"), ("binance", "tr>ade"), ("*", "trade")]
)
def test_market_subject_with_bad_venue_or_kind_raises_value_error(venue: str, kind: str) -> None:
    with pytest.raises(ValueError, match="token"):
        names.market_subject(venue, kind, "BTCUSDT")


@pytest.mark.parametrize("source", ["a.b", "x>", "*", ""])
def test_deadletter_subject_with_bad_source_raises_value_error(source: str) -> None:
    with pytest.raises(ValueError, match="source"):
        names.deadletter_subject(source)


def test_market_stream_with_namespace_ending_in_newline_raises_value_error() -> None:
    with pytest.raises(ValueError):
        names.market_stream("t1\n")


def test_trade_subject_with_symbol_ending_in_newline_raises_value_error() -> None:
    with pytest.raises(ValueError):
        names.trade_subject("BTCUSDT\n")


# --- venues: the market is part of every name ---------------------------------------------


def test_known_venues_are_binance_spot_and_usdm_futures() -> None:
    assert names.VENUE_BINANCE_USDM == "binance_usdm"
    assert names.VENUES == ("binance", "binance_usdm")


def test_trade_subject_for_usdm_futures_has_its_own_venue_token() -> None:
    assert names.trade_subject("BTCUSDT", names.VENUE_BINANCE_USDM) == (
        "market.binance_usdm.trade.BTCUSDT"
    )


def test_trade_msg_id_for_usdm_futures_differs_from_spot_for_the_same_trade_id() -> None:
    usdm = names.trade_msg_id(names.VENUE_BINANCE_USDM, "BTCUSDT", 7)
    assert usdm == "binance_usdm:BTCUSDT:trade:7"
    assert usdm != names.trade_msg_id(names.VENUE_BINANCE, "BTCUSDT", 7)


@pytest.mark.parametrize(
    ("venue", "symbol", "subject"),
    [
        (None, None, "market.*.trade.*"),
        (None, "btcusdt", "market.*.trade.BTCUSDT"),
        ("binance_usdm", None, "market.binance_usdm.trade.*"),
        ("binance", "BTCUSDT", "market.binance.trade.BTCUSDT"),
    ],
)
def test_kind_filter_subject_of_trades_uses_a_wildcard_for_what_is_not_given(
    venue: str | None, symbol: str | None, subject: str
) -> None:
    assert names.kind_filter_subject("trade", venue, symbol) == subject


def test_kind_filter_subject_of_trades_with_namespace_is_prefixed() -> None:
    assert names.kind_filter_subject("trade", "binance", None, "t1") == "t1.market.binance.trade.*"


@pytest.mark.parametrize(("venue", "symbol"), [("kraken", None), (None, "*"), (None, "a.b")])
def test_kind_filter_subject_of_trades_with_unknown_venue_or_bad_symbol_raises_value_error(
    venue: str | None, symbol: str | None
) -> None:
    with pytest.raises(ValueError):
        names.kind_filter_subject("trade", venue, symbol)


@pytest.mark.parametrize("venue", ["kraken", "", "BINANCE", "binance\n"])
def test_check_venue_with_unknown_venue_raises_value_error_listing_known_ones(venue: str) -> None:
    with pytest.raises(ValueError, match="binance, binance_usdm"):
        names.check_venue(venue)


# --- every stream kind ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stream", "kind"),
    [
        ("trade", "trade"),
        ("aggTrade", "aggtrade"),
        ("bookTicker", "book"),
        ("ticker", "ticker"),
        ("miniTicker", "miniticker"),
        ("kline_1m", "kline_1m"),
        ("kline_1M", "kline_1M"),
        ("kline_1s", "kline_1s"),
    ],
)
def test_stream_kind_maps_binance_streams_to_bus_kinds(stream: str, kind: str) -> None:
    assert names.stream_kind(stream) == kind


def test_every_binance_interval_is_a_kline_kind_and_a_valid_subject_token() -> None:
    assert names.KLINE_INTERVALS == (
        "1s", "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d",
        "1w", "1M",
    )  # fmt: skip
    for interval in names.KLINE_INTERVALS:
        subject = names.market_subject("binance", names.kline_kind(interval), "BTCUSDT")
        assert subject == f"market.binance.kline_{interval}.BTCUSDT"


def test_kline_subjects_of_minute_and_month_differ_by_case() -> None:
    minute = names.market_subject("binance", names.kline_kind("1m"), "BTCUSDT")
    month = names.market_subject("binance", names.kline_kind("1M"), "BTCUSDT")
    assert (minute, month) == ("market.binance.kline_1m.BTCUSDT", "market.binance.kline_1M.BTCUSDT")


@pytest.mark.parametrize("stream", ["depth", "kline_2m", "kline_1H", "AGGTRADE", "trades", ""])
def test_stream_kind_of_unsupported_stream_names_the_supported_ones(stream: str) -> None:
    with pytest.raises(
        ValueError, match=r"^unknown stream .*: use trade, aggTrade, kline_<interval>"
    ):
        names.stream_kind(stream)


def test_subject_kind_reads_the_kind_token_with_and_without_namespace() -> None:
    assert names.subject_kind("market.binance.aggtrade.BTCUSDT") == "aggtrade"
    assert names.subject_kind("t1.market.binance.kline_1M.BTCUSDT", "t1") == "kline_1M"
    with pytest.raises(ValueError, match="not a market"):
        names.subject_kind("deadletter.binance")


def test_kind_filter_subject_for_klines_of_one_symbol() -> None:
    assert (
        names.kind_filter_subject("kline_1m", symbol="btcusdt", namespace="t1")
        == "t1.market.*.kline_1m.BTCUSDT"
    )


def test_agg_trade_msg_id_is_venue_symbol_aggtrade_agg_id() -> None:
    assert names.agg_trade_msg_id("binance", "btcusdt", 665076760) == (
        "binance:BTCUSDT:aggtrade:665076760"
    )


def test_final_kline_msg_id_is_open_time_and_closed_flag_whatever_the_event_time() -> None:
    first = names.kline_msg_id("binance", "BTCUSDT", "1m", 1617566580000, True, 1617566640001)
    again = names.kline_msg_id("binance", "BTCUSDT", "1m", 1617566580000, True, 1617566640999)
    assert first == again == "binance:BTCUSDT:kline_1m:1617566580000:1"


def test_in_progress_kline_msg_ids_differ_per_update_so_none_is_deduplicated() -> None:
    one = names.kline_msg_id("binance", "BTCUSDT", "1m", 1617566580000, False, 1617566591315)
    two = names.kline_msg_id("binance", "BTCUSDT", "1m", 1617566580000, False, 1617566593400)
    assert one == "binance:BTCUSDT:kline_1m:1617566580000:0:1617566591315"
    assert one != two


def test_kline_msg_ids_of_minute_and_month_differ() -> None:
    minute = names.kline_msg_id("binance", "BTCUSDT", "1m", 1617235200000, True, 0)
    month = names.kline_msg_id("binance", "BTCUSDT", "1M", 1617235200000, True, 0)
    assert minute != month


def test_kline_msg_id_of_unknown_interval_is_refused() -> None:
    with pytest.raises(ValueError, match="case matters"):
        names.kline_msg_id("binance", "BTCUSDT", "1H", 0, True, 0)


def test_book_msg_id_is_venue_symbol_book_update_id() -> None:
    assert names.book_msg_id("binance", "BTCUSDT", 400900217) == "binance:BTCUSDT:book:400900217"


def test_ticker_msg_ids_are_keyed_by_event_time() -> None:
    assert names.ticker_msg_id("binance", "BNBBTC", "ticker", 1672515782136) == (
        "binance:BNBBTC:ticker:1672515782136"
    )
    assert names.ticker_msg_id("binance", "BNBBTC", "miniticker", 1672515782136) == (
        "binance:BNBBTC:miniticker:1672515782136"
    )
    with pytest.raises(ValueError):
        names.ticker_msg_id("binance", "BNBBTC", "book", 1)


def test_storage_market_durable_with_and_without_namespace() -> None:
    assert names.storage_market_durable() == "storage_market"
    assert names.storage_market_durable("t1") == "t1_storage_market"


def test_batch_msg_id_names_the_series_and_its_first_and_last_id() -> None:
    assert names.batch_msg_id("binance", "btcusdt", names.TRADE, 101, 300) == (
        "binance:BTCUSDT:trade:101-300"
    )


def test_market_subscriptions_bucket_is_namespaced_like_the_streams() -> None:
    assert names.market_subscriptions_bucket() == "MARKET_SUBSCRIPTIONS"
    assert names.market_subscriptions_bucket("t1") == "T1_MARKET_SUBSCRIPTIONS"


def test_deadletter_msg_id_names_stream_sequence_stored_time_and_event_index() -> None:
    assert names.deadletter_msg_id("T1_MARKET", 42, 1723161255000123, 3) == (
        "dl:T1_MARKET:42:1723161255000123:3"
    )


def test_jobs_stream_and_subjects_are_namespaced_like_the_others() -> None:
    assert names.jobs_stream() == "JOBS"
    assert names.jobs_stream("t1") == "T1_JOBS"
    assert names.jobs_subjects("t1") == ["t1.jobs.work.>"]
    assert names.job_work_subject("optimize") == "jobs.work.optimize"
    assert names.backtest_jobs_durable("t1") == "t1_backtest_jobs"


def test_job_progress_subject_is_jobs_progress_id() -> None:
    job_id = "5b1f3c9e-8d2a-4c6b-9a51-2f7e0d4c8b13"
    assert names.job_progress_subject(job_id) == f"jobs.progress.{job_id}"
    assert names.job_progress_subject(job_id, "t1") == f"t1.jobs.progress.{job_id}"
    with pytest.raises(ValueError, match="UUID"):
        names.job_progress_subject("a.b")
