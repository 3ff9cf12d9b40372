"""Unit tests for services/common/symbols.py and the places that must agree with it."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from graph.schema import schema
from services.common.errors import InvalidArgument
from services.common.settings import Settings, describe_invalid
from services.common.symbols import parse_symbol


@pytest.mark.parametrize(
    ("text", "symbol"),
    [
        ("BTCUSDT", "BTCUSDT"),
        ("btc", "BTC"),
        (" btcusdt ", "BTCUSDT"),
        ("1000satsusdt", "1000SATSUSDT"),
    ],
)
def test_parse_symbol_strips_and_upper_cases(text: str, symbol: str) -> None:
    assert parse_symbol(text) == symbol


@pytest.mark.parametrize(
    "text", ["BTC-USDT", "BTC USDT", "B", "", "BTC.USDT", "BTCUSDT\n!", "A" * 31]
)
def test_parse_symbol_refuses_non_symbols_as_invalid_argument_and_value_error(text: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        parse_symbol(text)
    assert isinstance(refused.value, ValueError)
    assert refused.value.code == "INVALID_ARGUMENT"


@pytest.mark.parametrize("text", ["BTC-USDT", "BTC.USDT", "B"])
def test_settings_graphql_and_parse_symbol_refuse_the_same_symbols(text: str) -> None:
    with pytest.raises(InvalidArgument):
        parse_symbol(text)
    with pytest.raises(ValidationError) as refused:
        Settings(symbols=(text,))
    assert describe_invalid(refused.value, {}).startswith("QUANTFLOW_SYMBOLS: ")


@pytest.mark.parametrize("text", ["btc", " btcusdt ", "BTC-USDT", "B"])
async def test_graphql_price_validates_symbols_as_parse_symbol_does(text: str) -> None:
    result = await schema.execute(
        "query($s: String!) { price(symbol: $s) { price } }",
        variable_values={"s": text},
        context_value=None,
    )
    assert result.errors is not None
    invalid = result.errors[0].extensions == {"code": "INVALID_ARGUMENT"}
    try:
        parse_symbol(text)
    except InvalidArgument:
        assert invalid
    else:
        assert not invalid  # got past validation to the (missing) backend
