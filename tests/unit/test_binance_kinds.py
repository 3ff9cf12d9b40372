"""Unit tests for services/ingest/binance.py beyond trades: aggTrade, kline, bookTicker,
ticker and miniTicker, each good and each way it can be bad (spec §4.2-4.6 examples)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from services.common.events import AggTrade, BookTicker, Kline, MiniTicker, Ticker
from services.ingest.binance import Malformed, Skipped, parse_message

NOW = 1672515782136 + 60_000

AGG_TRADE: dict[str, Any] = {
    "e": "aggTrade", "E": 1672515782136, "s": "BNBBTC", "a": 12345, "p": "0.001", "q": "100",
    "f": 100, "l": 105, "T": 1672515782136, "m": True, "M": True,
}  # fmt: skip
CANDLE: dict[str, Any] = {
    "t": 1672515780000, "T": 1672515839999, "s": "BNBBTC", "i": "1m", "f": 100, "L": 200,
    "o": "0.0010", "c": "0.0020", "h": "0.0025", "l": "0.0015", "v": "1000", "n": 100,
    "x": False, "q": "1.0000", "V": "500", "Q": "0.500", "B": "123456",
}  # fmt: skip
KLINE: dict[str, Any] = {"e": "kline", "E": 1672515782136, "s": "BNBBTC", "k": CANDLE}
BOOK_TICKER: dict[str, Any] = {
    "u": 400900217, "s": "BNBUSDT", "b": "25.35190000", "B": "31.21000000",
    "a": "25.36520000", "A": "40.66000000",
}  # fmt: skip
# The spec's example, with a real 24-hour window instead of its O=0, C=86400000.
TICKER: dict[str, Any] = {
    "e": "24hrTicker", "E": 1672515782136, "s": "BNBBTC", "p": "0.0015", "P": "250.00",
    "w": "0.0018", "x": "0.0009", "c": "0.0025", "Q": "10", "b": "0.0024", "B": "10",
    "a": "0.0026", "A": "100", "o": "0.0010", "h": "0.0025", "l": "0.0010", "v": "10000",
    "q": "18", "O": 1672429382136, "C": 1672515782136, "F": 0, "L": 18150, "n": 18151,
}  # fmt: skip
MINI_TICKER: dict[str, Any] = {
    "e": "24hrMiniTicker", "E": 1672515782136, "s": "BNBBTC", "c": "0.0025", "o": "0.0010",
    "h": "0.0025", "l": "0.0010", "v": "10000", "q": "18",
}  # fmt: skip


def _parse(stream: str, data: dict[str, Any]) -> object:
    return parse_message(json.dumps({"stream": stream, "data": data}), 7, now_ms=NOW)


def _changed(template: dict[str, Any], **changes: Any) -> dict[str, Any]:
    data = {k: v for k, v in template.items() if changes.get(k, None) is not ...}
    data.update({k: v for k, v in changes.items() if v is not ...})
    return data


def _kline(**candle: Any) -> dict[str, Any]:
    return {**KLINE, "k": _changed(CANDLE, **candle)}


# --- good messages ---------------------------------------------------------------------


def test_spec_aggtrade_parses_to_aggtrade() -> None:
    assert _parse("bnbbtc@aggTrade", AGG_TRADE) == AggTrade(
        "binance", "BNBBTC", 12345, "0.001", "100", 100, 105, 1672515782136, 1672515782136,
        True, 7,
    )  # fmt: skip


def test_spec_kline_parses_to_an_in_progress_kline_with_every_field() -> None:
    assert _parse("bnbbtc@kline_1m", KLINE) == Kline(
        venue="binance", symbol="BNBBTC", interval="1m", open_time_ms=1672515780000,
        close_time_ms=1672515839999, open="0.0010", high="0.0025", low="0.0015",
        close="0.0020", volume="1000", quote_volume="1.0000", trades=100, first_trade_id=100,
        last_trade_id=200, taker_buy_volume="500", taker_buy_quote_volume="0.500",
        closed=False, event_time_ms=1672515782136, received_time_us=7,
    )  # fmt: skip


def test_kline_is_final_only_when_binance_says_x_true() -> None:
    verdict = _parse("bnbbtc@kline_1m", _kline(x=True))
    assert isinstance(verdict, Kline) and verdict.closed


def test_kline_of_a_month_keeps_the_upper_case_interval() -> None:
    verdict = _parse("bnbbtc@kline_1M", _kline(i="1M", T=1675193999999))
    assert isinstance(verdict, Kline)
    assert (verdict.interval, verdict.kind) == ("1M", "kline_1M")


def test_quiet_kline_without_trades_has_minus_one_trade_ids_and_zero_volume() -> None:
    quiet = _kline(f=-1, L=-1, n=0, v="0.00000000", q="0", V="0", Q="0", h="0.0020", l="0.0010")
    verdict = _parse("bnbbtc@kline_1m", quiet)
    assert isinstance(verdict, Kline), verdict
    assert (verdict.first_trade_id, verdict.trades) == (-1, 0)


def test_spec_book_ticker_without_event_time_parses_to_book_ticker() -> None:
    assert _parse("bnbusdt@bookTicker", BOOK_TICKER) == BookTicker(
        "binance", "BNBUSDT", 400900217, "25.35190000", "31.21000000", "25.36520000",
        "40.66000000", 7,
    )  # fmt: skip


def test_bare_book_ticker_is_recognised_by_its_fields() -> None:
    verdict = parse_message(json.dumps(BOOK_TICKER), now_ms=NOW)
    assert isinstance(verdict, BookTicker)


def test_spec_ticker_parses_to_ticker_with_price_x_not_a_flag() -> None:
    verdict = _parse("bnbbtc@ticker", TICKER)
    assert isinstance(verdict, Ticker), verdict
    assert verdict.first_price == "0.0009"  # the ticker's x is a price
    assert (verdict.last_price, verdict.trades, verdict.last_trade_id) == ("0.0025", 18151, 18150)
    assert (verdict.open_time_ms, verdict.close_time_ms) == (1672429382136, 1672515782136)


def test_ticker_with_a_falling_price_has_a_negative_change() -> None:
    verdict = _parse("bnbbtc@ticker", _changed(TICKER, p="-0.0015", P="-60.00"))
    assert isinstance(verdict, Ticker)
    assert (verdict.price_change, verdict.price_change_percent) == ("-0.0015", "-60.00")


def test_spec_mini_ticker_parses_to_mini_ticker() -> None:
    assert _parse("bnbbtc@miniTicker", MINI_TICKER) == MiniTicker(
        "binance", "BNBBTC", 1672515782136, "0.0010", "0.0025", "0.0010", "0.0025", "10000",
        "18", 7,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("stream", "data", "kind"),
    [
        ("bnbbtc@aggTrade", AGG_TRADE, "aggTrade"),
        ("bnbbtc@kline_1m", KLINE, "kline"),
        ("bnbbtc@ticker", TICKER, "ticker"),
        ("bnbbtc@miniTicker", MINI_TICKER, "miniTicker"),
    ],
)
def test_microsecond_times_of_every_kind_are_normalised_to_milliseconds(
    stream: str, data: dict[str, Any], kind: str
) -> None:
    in_us = json.loads(json.dumps(data).replace("1672515782136", "1672515782136999"))
    assert _parse(stream, in_us) == _parse(stream, data)


def test_depth_update_stays_skipped() -> None:
    depth = {"e": "depthUpdate", "E": 1672515782136, "s": "BNBBTC", "U": 157, "u": 160,
             "b": [["0.0024", "10"]], "a": [["0.0026", "100"]]}  # fmt: skip
    assert _parse("bnbbtc@depth", depth) == Skipped("depthUpdate")


# --- bad messages ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stream", "data", "reason"),
    [
        pytest.param("bnbbtc@aggTrade", _changed(AGG_TRADE, p="0"), "p: ", id="agg-zero-price"),
        pytest.param("bnbbtc@aggTrade", _changed(AGG_TRADE, q="-1"), "q: ", id="agg-neg-qty"),
        pytest.param("bnbbtc@aggTrade", _changed(AGG_TRADE, a=...), "a: ", id="agg-no-id"),
        pytest.param("bnbbtc@aggTrade", _changed(AGG_TRADE, p="NaN"), "p: ", id="agg-nan"),
        pytest.param(
            "bnbbtc@aggTrade", _changed(AGG_TRADE, f=106), "before first", id="agg-ids-backwards"
        ),
        pytest.param("bnbbtc@aggTrade", _changed(AGG_TRADE, T=1), "T: ", id="agg-1970"),
        pytest.param(
            "bnbbtc@kline_1m", _kline(h="0.0010", l="0.0015"), "below low", id="kline-high-low"
        ),
        pytest.param("bnbbtc@kline_1m", _kline(v="-1000"), "k.v: ", id="kline-neg-volume"),
        pytest.param("bnbbtc@kline_1m", _kline(h="Infinity"), "k.h: ", id="kline-inf-high"),
        pytest.param("bnbbtc@kline_1m", _kline(o=0.001), "k.o: ", id="kline-float-open"),
        pytest.param("bnbbtc@kline_1m", _kline(x="false"), "k.x: ", id="kline-closed-string"),
        pytest.param("bnbbtc@kline_1m", _kline(i="1H"), "k.i: ", id="kline-bad-interval"),
        pytest.param("bnbbtc@kline_1m", _kline(n=-1), "k.n: ", id="kline-neg-count"),
        pytest.param(
            "bnbbtc@kline_1m", _kline(T=1672515779999), "before open", id="kline-ends-early"
        ),
        pytest.param("bnbbtc@kline_1m", _kline(s="ETHBTC"), "differs", id="kline-two-symbols"),
        pytest.param("bnbbtc@kline_1m", {**KLINE, "k": None}, "k: ", id="kline-no-candle"),
        pytest.param(
            "bnbusdt@bookTicker", _changed(BOOK_TICKER, B="-31"), "B: ", id="book-neg-qty"
        ),
        pytest.param(
            "bnbusdt@bookTicker", _changed(BOOK_TICKER, u="4009"), "u: ", id="book-id-string"
        ),
        pytest.param(
            "bnbusdt@bookTicker", _changed(BOOK_TICKER, a=25.3), "a: ", id="book-float-ask"
        ),
        pytest.param(
            "bnbbtc@ticker", _changed(TICKER, h="0.0001"), "below low", id="ticker-high-low"
        ),
        pytest.param("bnbbtc@ticker", _changed(TICKER, v="-1"), "v: ", id="ticker-neg-volume"),
        pytest.param("bnbbtc@ticker", _changed(TICKER, O=0), "O: ", id="ticker-open-1970"),
        pytest.param("bnbbtc@ticker", _changed(TICKER, c="1e3"), "c: ", id="ticker-exponent"),
        pytest.param(
            "bnbbtc@miniTicker", _changed(MINI_TICKER, l="1"), "below low", id="mini-high-low"
        ),
        pytest.param(
            "bnbbtc@miniTicker", _changed(MINI_TICKER, q="-18"), "q: ", id="mini-neg-quote"
        ),
    ],
)
def test_invalid_message_of_every_kind_is_malformed_with_the_reason(
    stream: str, data: dict[str, Any], reason: str
) -> None:
    verdict = _parse(stream, data)
    assert isinstance(verdict, Malformed), verdict
    assert verdict.reason.startswith("invalid "), verdict.reason
    assert reason in verdict.reason, verdict.reason


@pytest.mark.parametrize(
    ("stream", "data"),
    [
        ("ethbtc@aggTrade", AGG_TRADE),
        ("bnbbtc@trade", AGG_TRADE),
        ("bnbbtc@kline_5m", KLINE),
        ("bnbbtc@bookTicker", BOOK_TICKER),
        ("bnbbtc@miniTicker", TICKER),
        ("ethbtc@ticker", TICKER),
    ],
)
def test_payload_that_does_not_match_its_stream_is_malformed(
    stream: str, data: dict[str, Any]
) -> None:
    verdict = _parse(stream, data)
    assert isinstance(verdict, Malformed), verdict
    assert stream in verdict.reason


def test_kline_message_over_64_kib_is_malformed_with_its_size() -> None:
    text = json.dumps({"stream": "bnbbtc@kline_1m", "data": {**KLINE, "pad": "a" * 70_000}})
    verdict = parse_message(text, now_ms=NOW)
    assert isinstance(verdict, Malformed)
    assert verdict.reason.startswith("kline message of")
