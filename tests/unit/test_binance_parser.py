"""Unit tests for services/ingest/binance.py: every raw message gets exactly one verdict.

The bulk of the tests run the parser over real captured Binance Spot traffic
(tests/fixtures/binance, see SOURCES.md there).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from services.common.events import AggTrade, BookTicker, Kline
from services.common.trades import Trade
from services.ingest.binance import (
    Malformed,
    Skipped,
    _TradeMessage,
    _valid_trade,
    parse_message,
    stream_names,
)
from services.ingest.recordings import read_recording
from services.ingest.venues import detect_venue

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "binance"
HFT_GZ = FIXTURES / "binance_spot_btcusdt_2024-08-08.hftbacktest.gz"
SAMPLE_JSONL = FIXTURES / "binance_spot_btcusdt_2024-08-08.sample.jsonl"
KLINE_AGGTRADE_JSONL = FIXTURES / "binance_spot_ws_2021-04-04_kline_aggtrade.jsonl"


def _jsonl_lines(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def hft_lines() -> list[tuple[str, int | None]]:
    return [(r.text, r.received_ns) for r in read_recording(HFT_GZ)]


@pytest.fixture(scope="module")
def sample_lines() -> list[str]:
    return _jsonl_lines(SAMPLE_JSONL)


@pytest.fixture(scope="module")
def kline_aggtrade_lines() -> list[str]:
    return _jsonl_lines(KLINE_AGGTRADE_JSONL)


def _assert_trade_matches_payload(verdict: object, data: dict[str, Any]) -> None:
    assert isinstance(verdict, Trade), verdict
    assert verdict.venue == "binance"
    assert verdict.symbol == data["s"]
    assert verdict.trade_id == data["t"]
    assert verdict.price == data["p"]  # the verbatim decimal string, trailing zeros kept
    assert verdict.quantity == data["q"]
    assert verdict.trade_time_ms == data["T"]
    assert verdict.event_time_ms == data["E"]
    assert verdict.buyer_is_maker is data["m"]


def _expected_kind(message: dict[str, Any]) -> str:
    """What a non-trade message is, worked out independently of the parser."""
    if "lastUpdateId" in message:
        return "depthSnapshot"
    stream = message["stream"]
    if stream.endswith("@bookTicker"):
        return "bookTicker"
    if "@depth" in stream:
        return "depthUpdate"
    if stream.endswith("@aggTrade"):
        return "aggTrade"
    if "@kline_" in stream:
        return "kline"
    raise AssertionError(f"unexpected stream {stream!r} in a fixture")


# --- real captures: trades ---------------------------------------------------------------


def _check_every_trade(lines: list[str]) -> int:
    """Every btcusdt@trade message parses to a Trade with its payload's fields, and nothing
    else parses to a Trade; returns how many trades there were."""
    expected = 0
    parsed = 0
    for text in lines:
        message = json.loads(text)
        verdict = parse_message(text)
        if message.get("stream") == "btcusdt@trade":
            expected += 1
            _assert_trade_matches_payload(verdict, message["data"])
        if isinstance(verdict, Trade):
            parsed += 1
    assert parsed == expected
    return expected


def test_every_trade_in_hftbacktest_capture_parses_to_trade_with_payload_fields(
    hft_lines: list[tuple[str, int | None]],
) -> None:
    # SOURCES.md: 9,757 btcusdt@trade messages
    assert _check_every_trade([text for text, _ in hft_lines]) == 9_757


def test_every_trade_in_sample_capture_parses_to_trade_with_payload_fields(
    sample_lines: list[str],
) -> None:
    assert _check_every_trade(sample_lines) == 89  # SOURCES.md: 89 btcusdt@trade messages


def test_hftbacktest_capture_trade_with_bytes_input_parses_like_text(
    hft_lines: list[tuple[str, int | None]],
) -> None:
    text = next(t for t, _ in hft_lines if '"btcusdt@trade"' in t)
    assert parse_message(text.encode("utf-8")) == parse_message(text)


def test_parse_trade_with_received_time_keeps_it_on_the_trade(
    hft_lines: list[tuple[str, int | None]],
) -> None:
    text, receive_ns = next((t, ns) for t, ns in hft_lines if '"btcusdt@trade"' in t)
    assert receive_ns is not None
    verdict = parse_message(text, received_time_us=receive_ns // 1000)
    assert isinstance(verdict, Trade)
    assert verdict.received_time_us == receive_ns // 1000
    assert parse_message(text).received_time_us == 0  # type: ignore[union-attr]


# --- real captures: everything else is Skipped, never Malformed ---------------------------


def test_depth_messages_in_hftbacktest_capture_are_skipped_with_their_kind(
    hft_lines: list[tuple[str, int | None]],
) -> None:
    kinds: dict[str, int] = {}
    for text, _ in hft_lines:
        message = json.loads(text)
        if message.get("stream") in ("btcusdt@trade", "btcusdt@bookTicker"):
            continue
        verdict = parse_message(text)
        assert isinstance(verdict, Skipped), (verdict, text[:120])
        assert verdict.kind == _expected_kind(message), text[:120]
        kinds[verdict.kind] = kinds.get(verdict.kind, 0) + 1
    assert kinds == {"depthUpdate": 3_451, "depthSnapshot": 1}


def test_every_book_ticker_in_hftbacktest_capture_parses_with_payload_fields(
    hft_lines: list[tuple[str, int | None]],
) -> None:
    count = 0
    for text, _ in hft_lines:
        message = json.loads(text)
        if message.get("stream") != "btcusdt@bookTicker":
            continue
        data = message["data"]
        assert "E" not in data and "e" not in data  # spot book tickers carry no time
        verdict = parse_message(text, received_time_us=5)
        assert verdict == BookTicker(
            "binance", "BTCUSDT", data["u"], data["b"], data["B"], data["a"], data["A"], 5
        )
        count += 1
    assert count == 28_040  # SOURCES.md


def test_every_aggtrade_in_2021_capture_parses_with_payload_fields(
    kline_aggtrade_lines: list[str],
) -> None:
    per_symbol: dict[str, int] = {}
    for text in kline_aggtrade_lines:
        message = json.loads(text)
        if not message["stream"].endswith("@aggTrade"):
            continue
        d = message["data"]
        verdict = parse_message(text)
        assert verdict == AggTrade(
            "binance", d["s"], d["a"], d["p"], d["q"], d["f"], d["l"], d["T"], d["E"], d["m"]
        )
        per_symbol[d["s"]] = per_symbol.get(d["s"], 0) + 1
    assert per_symbol == {"BTCUSDT": 1_227, "ETHUSDT": 506, "DOTUSDT": 177}  # SOURCES.md


def test_every_kline_in_2021_capture_parses_and_three_are_final(
    kline_aggtrade_lines: list[str],
) -> None:
    klines = []
    for text in kline_aggtrade_lines:
        message = json.loads(text)
        if "@kline_" not in message["stream"]:
            continue
        k = message["data"]["k"]
        verdict = parse_message(text)
        assert isinstance(verdict, Kline), verdict
        assert (verdict.symbol, verdict.interval, verdict.open_time_ms) == (k["s"], "1m", k["t"])
        assert (verdict.open, verdict.high, verdict.low, verdict.close) == (
            k["o"],
            k["h"],
            k["l"],
            k["c"],
        )
        assert (verdict.volume, verdict.quote_volume, verdict.trades) == (k["v"], k["q"], k["n"])
        assert (verdict.taker_buy_volume, verdict.taker_buy_quote_volume) == (k["V"], k["Q"])
        assert (verdict.first_trade_id, verdict.last_trade_id) == (k["f"], k["L"])
        assert verdict.close_time_ms == k["T"] and verdict.closed is k["x"]
        assert verdict.event_time_ms == message["data"]["E"]
        klines.append(verdict)
    assert len(klines) == 44 + 40 + 34  # SOURCES.md
    final = sorted((k.symbol, k.open_time_ms) for k in klines if k.closed)
    # SOURCES.md: three final klines, one per symbol, all for the 20:03 minute.
    assert final == [(s, 1617566580000) for s in ("BTCUSDT", "DOTUSDT", "ETHUSDT")]


def test_no_message_in_any_capture_is_malformed(
    hft_lines: list[tuple[str, int | None]],
    sample_lines: list[str],
    kline_aggtrade_lines: list[str],
) -> None:
    everything = [t for t, _ in hft_lines] + sample_lines + kline_aggtrade_lines
    malformed = [(t[:120], v) for t in everything if isinstance(v := parse_message(t), Malformed)]
    assert malformed == []


def test_depth_snapshot_line_of_hftbacktest_capture_is_skipped_as_depth_snapshot(
    hft_lines: list[tuple[str, int | None]],
) -> None:
    snapshots = [t for t, _ in hft_lines if "lastUpdateId" in json.loads(t)]
    assert len(snapshots) == 1
    assert parse_message(snapshots[0]) == Skipped("depthSnapshot")


# --- bare (non-envelope) payloads --------------------------------------------------------


def test_bare_trade_payloads_parse_the_same_as_enveloped_ones(sample_lines: list[str]) -> None:
    checked = 0
    for text in sample_lines:
        message = json.loads(text)
        if message["stream"] != "btcusdt@trade":
            continue
        bare = json.dumps(message["data"])
        assert parse_message(bare) == parse_message(text)
        _assert_trade_matches_payload(parse_message(bare), message["data"])
        checked += 1
    assert checked == 89


def test_bare_payloads_of_every_kind_parse_the_same_as_enveloped_ones(
    sample_lines: list[str], kline_aggtrade_lines: list[str]
) -> None:
    seen: set[str] = set()
    for text in sample_lines + kline_aggtrade_lines:
        message = json.loads(text)
        verdict = parse_message(json.dumps(message["data"]))
        assert verdict == parse_message(text), text[:120]
        seen.add(type(verdict).__name__ if not isinstance(verdict, Skipped) else verdict.kind)
    assert seen == {"Trade", "BookTicker", "AggTrade", "Kline", "depthUpdate"}


# --- control replies ---------------------------------------------------------------------


def test_subscribe_result_reply_is_skipped() -> None:
    verdict = parse_message('{"result":null,"id":1}')
    assert isinstance(verdict, Skipped)
    assert verdict.kind == "reply"


def test_error_reply_is_skipped() -> None:
    verdict = parse_message('{"error":{"code":2,"msg":"x"},"id":2}')
    assert isinstance(verdict, Skipped)
    assert verdict.kind == "error-reply"


# --- malformed input ---------------------------------------------------------------------

TRADE: dict[str, Any] = {
    "e": "trade",
    "E": 1723161255208,
    "s": "BTCUSDT",
    "t": 3713862460,
    "p": "61837.64000000",
    "q": "0.00100000",
    "T": 1723161255207,
    "m": True,
    "M": True,
}


def _enveloped(**changes: Any) -> str:
    data = {k: v for k, v in TRADE.items() if k not in changes or changes[k] is not ...}
    data.update({k: v for k, v in changes.items() if v is not ...})
    return json.dumps({"stream": "btcusdt@trade", "data": data})


def test_valid_trade_template_parses_to_trade() -> None:
    # Guards the malformed cases below: each differs from this one in one field only.
    _assert_trade_matches_payload(parse_message(_enveloped()), TRADE)


def test_parse_broken_json_is_malformed_invalid_json() -> None:
    verdict = parse_message('{"stream":"btcusdt@trade","data":{"e":"trade"')
    assert isinstance(verdict, Malformed)
    assert "invalid JSON" in verdict.reason


def test_parse_invalid_utf8_bytes_is_malformed() -> None:
    verdict = parse_message(b'{"s":"\xff\xfe"}')
    assert isinstance(verdict, Malformed)


def test_parse_json_array_top_level_is_malformed_not_an_object() -> None:
    verdict = parse_message("[1, 2, 3]")
    assert isinstance(verdict, Malformed)
    assert "JSON object" in verdict.reason
    assert "list" in verdict.reason


def test_parse_json_string_top_level_is_malformed_not_an_object() -> None:
    verdict = parse_message('"btcusdt@trade"')
    assert isinstance(verdict, Malformed)
    assert "JSON object" in verdict.reason
    assert "str" in verdict.reason


def test_parse_envelope_without_data_is_malformed() -> None:
    verdict = parse_message('{"stream":"btcusdt@trade"}')
    assert isinstance(verdict, Malformed)
    assert "data" in verdict.reason


def test_parse_envelope_with_non_string_stream_is_malformed() -> None:
    verdict = parse_message(json.dumps({"stream": 7, "data": TRADE}))
    assert isinstance(verdict, Malformed)
    assert "stream" in verdict.reason


@pytest.mark.parametrize(
    ("changes", "field", "problem"),
    [
        pytest.param({"p": ...}, "p", "Field required", id="missing-price"),
        pytest.param({"q": ...}, "q", "Field required", id="missing-quantity"),
        pytest.param({"t": ...}, "t", "Field required", id="missing-trade-id"),
        pytest.param({"p": "abc"}, "p", "not a decimal", id="non-numeric-price"),
        pytest.param({"p": "-1"}, "p", "not a decimal", id="negative-price"),
        pytest.param({"p": "1e5"}, "p", "not a decimal", id="exponent-price"),
        pytest.param({"p": "0.00000000"}, "p", "greater than zero", id="zero-price"),
        pytest.param({"q": "0.00000000"}, "q", "greater than zero", id="zero-quantity"),
        pytest.param({"q": "0"}, "q", "greater than zero", id="zero-quantity-integer-string"),
        pytest.param({"p": 61837.64}, "p", "string", id="price-as-json-float"),
        pytest.param({"p": 61837}, "p", "string", id="price-as-json-int"),
        pytest.param({"q": 0.001}, "q", "string", id="quantity-as-json-number"),
        pytest.param({"t": "3713862460"}, "t", "integer", id="trade-id-as-string"),
        pytest.param({"t": -1}, "t", "outside 0 to 2^63", id="negative-trade-id"),
        pytest.param({"s": "btcusdt"}, "s", "upper-case symbol", id="lowercase-symbol"),
        pytest.param({"m": "true"}, "m", "boolean", id="maker-flag-as-string"),
        pytest.param({"m": 1}, "m", "boolean", id="maker-flag-as-int"),
        pytest.param({"T": "1723161255207"}, "T", "integer", id="trade-time-as-string"),
        pytest.param({"E": 0}, "E", "Binance's launch", id="zero-event-time"),
        pytest.param({"p": "NaN"}, "p", "not a decimal", id="nan-price"),
        pytest.param({"p": "Infinity"}, "p", "not a decimal", id="infinite-price"),
        pytest.param({"p": "9" * 1000}, "p", "1000 integer digits", id="price-of-1000-nines"),
        pytest.param(
            {"q": "0." + "0" * 17_000 + "1"}, "q", "17001 fraction digits", id="tiny-quantity"
        ),
        pytest.param({"T": 1}, "T", "Binance's launch", id="trade-time-1970"),
        pytest.param({"T": 9_999_999_999_999}, "T", "Binance's launch", id="trade-time-2286"),
        pytest.param({"T": 1723161255207000000}, "T", "Binance's launch", id="trade-time-in-ns"),
        pytest.param({"T": 172316125520712}, "T", "Binance's launch", id="trade-time-15-digits"),
        pytest.param({"E": 1723161255208000000}, "E", "Binance's launch", id="event-time-in-ns"),
        pytest.param({"t": 2**63}, "t", "outside 0 to 2^63", id="trade-id-beyond-int64"),
    ],
)
def test_parse_trade_with_invalid_field_is_malformed_naming_the_field(
    changes: dict[str, Any], field: str, problem: str
) -> None:
    verdict = parse_message(_enveloped(**changes))
    assert isinstance(verdict, Malformed), verdict
    assert verdict.reason.startswith("invalid trade")
    assert f"{field}: " in verdict.reason
    assert problem in verdict.reason


def test_parse_trade_with_microsecond_times_normalises_them_to_milliseconds() -> None:
    verdict = parse_message(_enveloped(E=1723161255208123, T=1723161255207999))
    assert isinstance(verdict, Trade)
    assert verdict.event_time_ms == 1723161255208
    assert verdict.trade_time_ms == 1723161255207


def test_parse_trade_with_millisecond_times_keeps_them_unchanged() -> None:
    verdict = parse_message(_enveloped(E=1723161255208, T=1723161255207))
    assert isinstance(verdict, Trade)
    assert (verdict.event_time_ms, verdict.trade_time_ms) == (1723161255208, 1723161255207)


def test_parse_trade_with_trade_id_beyond_32_bits_keeps_exact_id() -> None:
    verdict = parse_message(_enveloped(t=2**53 + 1))
    assert isinstance(verdict, Trade)
    assert verdict.trade_id == 2**53 + 1


def test_parse_trade_with_price_ending_in_newline_is_malformed() -> None:
    assert isinstance(parse_message(_enveloped(p="1.5\n")), Malformed)


def test_parse_trade_at_the_largest_int64_id_keeps_it() -> None:
    verdict = parse_message(_enveloped(t=2**63 - 1))
    assert isinstance(verdict, Trade)
    assert verdict.trade_id == 2**63 - 1


def test_parse_trade_with_microsecond_time_truncates_by_integer_division() -> None:
    # 1723161255207999 µs is ...207 ms (a float division would round some values up).
    verdict = parse_message(_enveloped(T=1723161255207999))
    assert isinstance(verdict, Trade)
    assert verdict.trade_time_ms == 1723161255207


def test_parse_trade_ahead_of_now_beyond_the_skew_is_malformed() -> None:
    now = TRADE["T"]
    assert isinstance(parse_message(_enveloped(), now_ms=now), Trade)
    verdict = parse_message(_enveloped(T=now + 2 * 3_600_000), now_ms=now)
    assert isinstance(verdict, Malformed)
    assert "T: " in verdict.reason


def test_parse_trade_whose_payload_symbol_differs_from_the_stream_is_malformed() -> None:
    text = json.dumps({"stream": "ethusdt@trade", "data": TRADE})
    verdict = parse_message(text)
    assert isinstance(verdict, Malformed)
    assert "ethusdt@trade" in verdict.reason and "BTCUSDT" in verdict.reason


def test_parse_envelope_with_null_data_is_malformed() -> None:
    verdict = parse_message(json.dumps({"stream": "btcusdt@trade", "data": None}))
    assert isinstance(verdict, Malformed)
    assert "null" in verdict.reason


@pytest.mark.parametrize("padding", [64 * 1024, 1024 * 1024 + 1])
def test_parse_trade_message_over_64_kib_is_malformed_with_its_size(padding: int) -> None:
    text = _enveloped(x="a" * padding)
    verdict = parse_message(text)
    assert isinstance(verdict, Malformed)
    assert f"{len(text)} bytes" in verdict.reason


def test_parse_trade_with_200000_digit_price_is_malformed() -> None:
    verdict = parse_message(_enveloped(p="1" * 200_000))
    assert isinstance(verdict, Malformed)


def test_parse_non_trade_message_over_64_kib_is_still_skipped() -> None:
    # The REST depth snapshot in the hftbacktest capture is 64 KB: size caps are per trade.
    snapshot = json.dumps({"lastUpdateId": 1, "bids": [["1.0", "2.0"]] * 8000, "asks": []})
    assert parse_message(snapshot) == Skipped("depthSnapshot")


# --- stream names ----------------------------------------------------------------------


def test_stream_names_are_every_symbol_times_every_stream_lower_cased_symbols() -> None:
    assert stream_names(("BTCUSDT", "ETHUSDT"), ("trade", "aggTrade", "kline_1M")) == [
        "btcusdt@trade",
        "btcusdt@aggTrade",
        "btcusdt@kline_1M",
        "ethusdt@trade",
        "ethusdt@aggTrade",
        "ethusdt@kline_1M",
    ]


def test_stream_names_with_an_unsupported_stream_is_refused() -> None:
    with pytest.raises(ValueError, match="depth"):
        stream_names(("BTCUSDT",), ("depth",))


# --- the trade fast path agrees with the model ------------------------------------------

USDM_JSONL = FIXTURES / "binance_usdm_btcusdt_2022-08-11.sample.jsonl"


@pytest.mark.parametrize("capture", [HFT_GZ, USDM_JSONL], ids=["spot", "usdm"])
def test_every_captured_trade_parses_to_what_the_model_makes_of_it(capture: Path) -> None:
    now = 1_800_000_000_000
    checked = 0
    for recorded in read_recording(capture):
        message = json.loads(recorded.text)
        data = message.get("data", message)
        if data.get("e") != "trade":
            continue
        model = _TradeMessage.model_validate(data, context={"now_ms": now})
        assert _valid_trade(data, now, 7) == model.to_event(detect_venue(data), 7)
        checked += 1
    assert checked >= 5


@pytest.mark.parametrize(
    "changes",
    [
        {"t": True},  # a bool is no trade id
        {"t": 1.0},
        {"E": "1723161255343"},
        {"m": 1},
        {"p": 61837.63},
        {"p": "0"},
        {"s": "btcusdt"},
        {"T": 1723161255342 * 1_000_000},  # nanoseconds
        {"e": "aggTrade"},
    ],
    ids=repr,
)
def test_a_trade_the_fast_path_declines_is_left_to_the_model(changes: dict[str, Any]) -> None:
    data = {"e": "trade", "E": 1723161255343, "s": "BTCUSDT", "t": 3735683259,
            "p": "61837.63000000", "q": "0.02000000", "T": 1723161255342, "m": True,
            "M": True, **changes}  # fmt: skip
    assert _valid_trade(data, 1_800_000_000_000, 0) is None
    if changes.get("e") is None:
        verdict = parse_message(json.dumps({"stream": "btcusdt@trade", "data": data}))
        assert isinstance(verdict, Malformed), changes


def test_a_trade_in_microseconds_is_normalised_by_the_fast_path_too() -> None:
    data = {"e": "trade", "E": 1723161255343123, "s": "BTCUSDT", "t": 1, "p": "1",
            "q": "1", "T": 1723161255342999, "m": False, "M": True}  # fmt: skip
    trade = _valid_trade(data, 1_800_000_000_000, 0)
    assert trade is not None
    assert (trade.event_time_ms, trade.trade_time_ms) == (1723161255343, 1723161255342)
