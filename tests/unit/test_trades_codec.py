"""Unit tests for services/common/trades.py: the Trade's protobuf form on the bus."""

from __future__ import annotations

import dataclasses

import pytest

from services.common.trades import Trade, decode_trade, encode_trade

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
    trade = Trade("binance", "ETHUSDT", 1, "2500.5", "0.1", 1, 2, False)
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
    payload = encode_trade(dataclasses.replace(TRADE, **{missing: ""}))
    with pytest.raises(ValueError, match="lacks"):
        decode_trade(payload)


def test_decode_truncated_encoding_raises_value_error() -> None:
    payload = encode_trade(TRADE)
    with pytest.raises(ValueError):
        decode_trade(payload[: len(payload) // 2])
