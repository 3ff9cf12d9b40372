"""Unit tests for services/common/codec.py: the Trade's protobuf form on the bus, validated."""

from __future__ import annotations

import dataclasses

import pytest

from services.common.codec import decode_trade, encode_trade
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
