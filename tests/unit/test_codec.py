"""Unit tests for services/common/codec.py: the Trade's protobuf form on the bus, validated."""

from __future__ import annotations

import dataclasses

import pytest

from quantflow.market.v1 import event_batch_pb2
from services.common.codec import (
    BATCH_HEADER,
    InvalidEvent,
    decode_event,
    decode_message,
    decode_trade,
    encode_batch,
    encode_event,
    encode_trade,
)
from services.common.events import AggTrade, BookTicker, Event, Kline, MiniTicker, Ticker
from services.common.trades import Trade

TRADE = Trade(
    venue="binance",
    symbol="BTCUSDT",
    trade_id=3713862460,  # a real id, already beyond 2**31
    price="61837.64000000",
    quantity="0.00100000",
    trade_time_ms=1723161255207,
    event_time_ms=1723161255208,
    buyer_is_maker=True,
    received_time_us=1723161253937085,
)


def test_encode_then_decode_keeps_every_field() -> None:
    decoded = decode_trade(encode_trade(TRADE))
    assert decoded == TRADE
    # Field by field too, so a failure names the field.
    for field in dataclasses.fields(Trade):
        assert getattr(decoded, field.name) == getattr(TRADE, field.name), field.name


@pytest.mark.parametrize("trade_id", [2**32, 2**32 + 1, 2**53 + 1, 2**63 - 1])
def test_round_trip_with_trade_id_beyond_32_bits_keeps_exact_id(trade_id: int) -> None:
    trade = dataclasses.replace(TRADE, trade_id=trade_id)
    assert decode_trade(encode_trade(trade)).trade_id == trade_id


@pytest.mark.parametrize(
    ("price", "quantity"),
    [("61837.64000000", "0.00100000"), ("1.10", "100"), ("0.00000001", "5.000000000000000000")],
)
def test_round_trip_keeps_decimal_strings_verbatim_with_trailing_zeros(
    price: str, quantity: str
) -> None:
    decoded = decode_trade(encode_trade(dataclasses.replace(TRADE, price=price, quantity=quantity)))
    assert decoded.price == price
    assert decoded.quantity == quantity


def test_round_trip_with_buyer_is_maker_false_keeps_false() -> None:
    decoded = decode_trade(encode_trade(dataclasses.replace(TRADE, buyer_is_maker=False)))
    assert decoded.buyer_is_maker is False


def test_round_trip_with_default_received_time_keeps_zero() -> None:
    trade = Trade("binance", "ETHUSDT", 1, "2500.5", "0.1", 1723161255207, 1723161255208, False)
    assert decode_trade(encode_trade(trade)) == trade
    assert decode_trade(encode_trade(trade)).received_time_us == 0


def test_encoded_trade_is_nonempty_bytes() -> None:
    payload = encode_trade(TRADE)
    assert isinstance(payload, bytes)
    assert len(payload) > 0


@pytest.mark.parametrize("garbage", [b"not a protobuf", b"\xff\xff\xff\xff", b"\x0a\x10bin"])
def test_decode_garbage_bytes_raises_value_error(garbage: bytes) -> None:
    with pytest.raises(ValueError):
        decode_trade(garbage)


def test_decode_empty_bytes_raises_value_error() -> None:
    with pytest.raises(ValueError, match="lacks"):
        decode_trade(b"")


@pytest.mark.parametrize("missing", ["price", "quantity", "symbol"])
def test_decode_trade_lacking_required_field_raises_value_error(missing: str) -> None:
    payload = encode_trade(dataclasses.replace(TRADE, **{missing: ""}))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="lacks"):
        decode_trade(payload)


def test_decode_truncated_encoding_raises_value_error() -> None:
    payload = encode_trade(TRADE)
    with pytest.raises(ValueError):
        decode_trade(payload[: len(payload) // 2])


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        pytest.param({"price": "abc"}, "price", id="non-numeric-price"),
        pytest.param({"price": "-1"}, "price", id="negative-price"),
        pytest.param({"price": "NaN"}, "price", id="nan-price"),
        pytest.param({"price": "Infinity"}, "price", id="infinite-price"),
        pytest.param({"price": "1" * 200_000}, "price", id="200000-digit-price"),
        pytest.param({"price": "9" * 1000}, "price", id="price-of-1000-nines"),
        pytest.param({"quantity": "0." + "0" * 17_000 + "1"}, "quantity", id="tiny-quantity"),
        pytest.param({"quantity": "0"}, "quantity", id="zero-quantity"),
        pytest.param({"trade_time_ms": 1723161255207000000}, "trade_time_ms", id="time-in-ns"),
        pytest.param({"trade_time_ms": 1723161255207123}, "trade_time_ms", id="time-in-us"),
        pytest.param({"trade_time_ms": 172316125520712}, "trade_time_ms", id="time-15-digits"),
        pytest.param({"trade_time_ms": 1}, "trade_time_ms", id="time-1970"),
        pytest.param({"trade_time_ms": 9_999_999_999_999}, "trade_time_ms", id="time-2286"),
        pytest.param({"event_time_ms": 0}, "event_time_ms", id="event-time-zero"),
        pytest.param({"received_time_us": 2**62}, "received_time_us", id="received-far-future"),
        pytest.param({"trade_id": -1}, "trade_id", id="negative-trade-id"),
        pytest.param({"symbol": "btcusdt"}, "symbol", id="lowercase-symbol"),
        pytest.param({"symbol": "BTC-USDT"}, "symbol", id="symbol-with-dash"),
        pytest.param({"venue": "Binance Spot"}, "venue", id="venue-with-space"),
    ],
)
def test_decode_event_with_invalid_field_raises_value_error_naming_it(
    changes: dict[str, object], field: str
) -> None:
    payload = encode_trade(dataclasses.replace(TRADE, **changes))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=f"^{field}: "):
        decode_trade(payload)


def test_decode_event_ahead_of_now_beyond_the_skew_raises_value_error() -> None:
    payload = encode_trade(TRADE)
    assert decode_trade(payload, now_ms=TRADE.trade_time_ms) == TRADE
    with pytest.raises(ValueError, match=r"^trade_time_ms: "):
        decode_trade(payload, now_ms=TRADE.trade_time_ms - 2 * 3_600_000)


# --- every other kind ------------------------------------------------------------------

AGG = AggTrade("binance", "BTCUSDT", 665076760, "58001.03", "0.086", 745522877, 745522877,
               1617566591314, 1617566591315, True, 1617566591400000)  # fmt: skip
KLINE = Kline("binance", "BTCUSDT", "1M", 1617235200000, 1619827199999, "58800.00",
              "59100.00", "58700.00", "59000.00", "10.5", "619500.1", 2**40, 1, 2**40,
              "5.1", "300000.5", True, 1617566591315, 1617566591400000)  # fmt: skip
BOOK = BookTicker("binance", "BTCUSDT", 50093239212, "61837.63", "3.78", "61837.64", "0")
TICKER = Ticker("binance", "BNBBTC", 1672515782136, "-0.0015", "-60.00", "0.0018", "0.0009",
                "0.0025", "10", "0.0024", "10", "0.0026", "100", "0.0010", "0.0025",
                "0.0010", "10000", "18", 1672429382136, 1672515782136, -1, -1, 0)  # fmt: skip
MINI = MiniTicker("binance", "BNBBTC", 1672515782136, "0.0010", "0.0025", "0.0010", "0.0025",
                  "10000", "18")  # fmt: skip


@pytest.mark.parametrize("event", [TRADE, AGG, KLINE, BOOK, TICKER, MINI], ids=lambda e: e.kind)
def test_every_kind_round_trips_through_its_protobuf_message(event: Event) -> None:
    assert decode_event(event.kind, encode_event(event)) == event


def test_decode_event_under_another_kline_interval_is_refused() -> None:
    with pytest.raises(ValueError, match="kline_1M event on a kline_1m subject"):
        decode_event("kline_1m", encode_event(KLINE))


def test_decode_event_of_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="no market event of kind 'depth'"):
        decode_event("depth", encode_event(BOOK))


def test_decode_event_validates_like_the_parser() -> None:
    upside_down = dataclasses.replace(KLINE, high="1", low="2")
    with pytest.raises(ValueError, match="high: high 1 is below low 2"):
        decode_event("kline_1M", encode_event(upside_down))
    with pytest.raises(ValueError, match="volume"):
        decode_event("kline_1M", encode_event(dataclasses.replace(KLINE, volume="-1")))
    with pytest.raises(ValueError, match="price"):
        decode_event("aggtrade", encode_event(dataclasses.replace(AGG, price="")))


# --- batches ---------------------------------------------------------------------------


def test_a_batch_decodes_to_its_events_in_order() -> None:
    trades = [dataclasses.replace(TRADE, trade_id=TRADE.trade_id + i) for i in range(3)]
    decoded = decode_message("trade", encode_batch(trades), {BATCH_HEADER: "3"})
    assert decoded == trades


def test_a_batch_is_a_repeated_trade_field_on_the_wire() -> None:
    # The proto's promise: a typed "repeated Trade events = 1" reader decodes it too.
    batch = event_batch_pb2.EventBatch.FromString(encode_batch([TRADE, AGG]))
    assert list(batch.events) == [encode_event(TRADE), encode_event(AGG)]


def test_one_invalid_event_of_a_batch_spoils_only_itself() -> None:
    bad = dataclasses.replace(TRADE, trade_id=TRADE.trade_id + 1, price="NaN")
    first, second, third = decode_message(
        "trade", encode_batch([TRADE, bad, AGG]), {BATCH_HEADER: "3"}
    )
    assert first == TRADE
    assert isinstance(second, InvalidEvent) and "price" in second.reason
    assert second.payload == encode_trade(bad)
    assert isinstance(third, InvalidEvent)  # an aggTrade on a trade subject


def test_a_message_without_the_batch_header_is_one_bare_event() -> None:
    assert decode_message("trade", encode_trade(TRADE), None) == [TRADE]
    assert decode_message("trade", encode_trade(TRADE), {"Nats-Msg-Id": "x"}) == [TRADE]


def test_an_undecodable_batch_is_refused_whole() -> None:
    with pytest.raises(ValueError, match=r"not a quantflow\.market\.v1\.EventBatch"):
        decode_message("trade", b"\xff\xff", {BATCH_HEADER: "2"})
