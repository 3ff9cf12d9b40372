"""Unit tests for graph/schema.py, graph/scalars.py and graph/errors.py, without servers.

Queries run through the real schema with ``context_value=None``: anything that reaches for a
backend fails, so passing tests prove validation happens before a backend is touched.
"""

from __future__ import annotations

import logging
import re
import subprocess
import sys
from pathlib import Path

import pytest
import strawberry
from graphql import GraphQLError, GraphQLScalarType
from strawberry.schema.config import StrawberryConfig

from graph.errors import TypedError, should_mask
from graph.scalars import SCALAR_MAP, Int64, _parse_int64
from graph.schema import schema

REPO = Path(__file__).resolve().parents[2]

# --- symbol validation before any backend ------------------------------------------------


async def test_price_with_invalid_symbol_returns_invalid_argument_error() -> None:
    result = await schema.execute(
        '{ price(symbol: "not a symbol!") { price } }', context_value=None
    )
    assert result.data == {"price": None}
    assert result.errors is not None and len(result.errors) == 1
    error = result.errors[0]
    assert error.extensions == {"code": "INVALID_ARGUMENT"}
    assert "not a symbol!" in error.message
    assert error.path == ["price"]


async def test_prices_with_one_invalid_symbol_returns_invalid_argument_error() -> None:
    result = await schema.execute(
        '{ prices(symbols: ["BTCUSDT", "BTC-USD"]) { price } }', context_value=None
    )
    assert result.errors is not None and len(result.errors) == 1
    assert result.errors[0].extensions == {"code": "INVALID_ARGUMENT"}
    assert "BTC-USD" in result.errors[0].message


async def test_price_with_valid_symbol_and_no_backend_is_masked_without_internals() -> None:
    # A valid symbol passes validation and the resolver reaches for the (missing) backend:
    # that unexpected fault must reach the client masked, with no typed code.
    result = await schema.execute('{ price(symbol: "BTCUSDT") { price } }', context_value=None)
    assert result.errors is not None and len(result.errors) == 1
    error = result.errors[0]
    assert "code" not in (error.extensions or {})
    assert "NoneType" not in error.message
    assert "backends" not in error.message


async def test_query_with_syntax_error_is_reported_unmasked() -> None:
    result = await schema.execute("{ price(symbol: ", context_value=None)
    assert result.errors is not None
    assert "Syntax Error" in result.errors[0].message


async def test_price_query_with_unknown_field_returns_validation_error() -> None:
    result = await schema.execute('{ price(symbol: "BTCUSDT") { nope } }', context_value=None)
    assert result.errors is not None
    assert "nope" in result.errors[0].message


# --- SDL ---------------------------------------------------------------------------------


def _type_block(sdl: str, name: str) -> str:
    match = re.search(rf"^type {name} \{{\n(.*?)^\}}", sdl, re.MULTILINE | re.DOTALL)
    assert match, f"type {name} missing from the SDL"
    return match.group(1)


@pytest.mark.parametrize("type_name", ["Price", "Trade"])
def test_sdl_types_trade_id_and_trade_time_ms_as_int64(type_name: str) -> None:
    block = _type_block(schema.as_str(), type_name)
    assert re.search(r"^\s*tradeId: Int64!$", block, re.MULTILINE)
    assert re.search(r"^\s*tradeTimeMs: Int64!$", block, re.MULTILINE)


@pytest.mark.parametrize("type_name", ["Price", "Trade"])
def test_sdl_types_price_and_quantity_as_string(type_name: str) -> None:
    block = _type_block(schema.as_str(), type_name)
    assert re.search(r"^\s*price: String!$", block, re.MULTILINE)
    assert re.search(r"^\s*quantity: String!$", block, re.MULTILINE)


def test_sdl_declares_int64_scalar() -> None:
    assert re.search(r"^scalar Int64$", schema.as_str(), re.MULTILINE)


def test_sdl_price_query_takes_a_required_symbol_and_may_be_null() -> None:
    # Nullable, so one unknown symbol does not null the rest of a query.
    assert re.search(r"^\s*price\(symbol: String![,)].*: Price$", schema.as_str(), re.MULTILINE)


def test_sdl_prices_query_may_be_null() -> None:
    # Nullable, so storage being unavailable nulls this field only, not all of `data`.
    assert re.search(
        r"^\s*prices\(symbols: \[String!\] = null[,)].*: \[Price!\]$", schema.as_str(), re.M
    )


# --- Int64 scalar ------------------------------------------------------------------------


def test_parse_int64_of_string_beyond_2_pow_53_keeps_exact_value() -> None:
    assert _parse_int64("9007199254740993") == 9007199254740993


def test_parse_int64_of_int_returns_it() -> None:
    assert _parse_int64(3713862460) == 3713862460


@pytest.mark.parametrize("value", [2**63 - 1, -(2**63), str(2**63 - 1), str(-(2**63))])
def test_parse_int64_at_signed_64_bit_limits_is_accepted(value: int | str) -> None:
    assert _parse_int64(value) == int(value)


@pytest.mark.parametrize("value", [2**63, -(2**63) - 1, str(2**63), "99999999999999999999"])
def test_parse_int64_out_of_range_raises_value_error(value: int | str) -> None:
    with pytest.raises(ValueError, match="64-bit"):
        _parse_int64(value)


@pytest.mark.parametrize("value", [True, False])
def test_parse_int64_of_boolean_raises_value_error(value: bool) -> None:
    with pytest.raises(ValueError, match="Int64"):
        _parse_int64(value)


@pytest.mark.parametrize("value", [1.5, 1.0, None, [1], {"n": 1}])
def test_parse_int64_of_non_integer_type_raises_value_error(value: object) -> None:
    with pytest.raises(ValueError):
        _parse_int64(value)


@pytest.mark.parametrize("value", ["abc", "", "1.5"])
def test_parse_int64_of_non_digit_string_raises_value_error(value: str) -> None:
    with pytest.raises(ValueError):
        _parse_int64(value)


def test_schema_int64_type_parses_value_with_the_scalar_parser() -> None:
    int64 = schema._schema.get_type("Int64")
    assert isinstance(int64, GraphQLScalarType)
    assert int64.parse_value("9007199254740993") == 9007199254740993
    assert int64.serialize(9007199254740993) == "9007199254740993"
    with pytest.raises(ValueError):
        int64.parse_value(True)


@strawberry.type
class _EchoQuery:
    @strawberry.field
    def echo(self, value: Int64) -> Int64:
        return value


_echo_schema = strawberry.Schema(query=_EchoQuery, config=StrawberryConfig(scalar_map=SCALAR_MAP))


@pytest.mark.parametrize("literal", ['"9007199254740993"', "9007199254740993"])
async def test_int64_beyond_2_pow_53_round_trips_exactly_as_a_string(literal: str) -> None:
    # 2^53 + 1 is the first integer a JavaScript number cannot hold.
    result = await _echo_schema.execute(f"{{ echo(value: {literal}) }}")
    assert result.errors is None
    assert result.data == {"echo": "9007199254740993"}


async def test_int64_variable_beyond_2_pow_53_round_trips_exactly_as_a_string() -> None:
    result = await _echo_schema.execute(
        "query ($v: Int64!) { echo(value: $v) }", variable_values={"v": "9007199254740993"}
    )
    assert result.errors is None
    assert result.data == {"echo": "9007199254740993"}


# --- should_mask -------------------------------------------------------------------------


def test_should_mask_with_typed_error_original_is_false() -> None:
    original = TypedError("NOT_FOUND", "no trades for BTCUSDT yet")
    assert should_mask(GraphQLError(original.message, original_error=original)) is False


def test_should_mask_with_plain_value_error_original_is_true() -> None:
    error = GraphQLError("boom", original_error=ValueError("database password is hunter2"))
    assert should_mask(error) is True


def test_should_mask_with_no_original_syntax_error_is_false() -> None:
    assert should_mask(GraphQLError("Syntax Error: Expected Name, found <EOF>.")) is False


def test_should_mask_with_graphql_error_original_without_code_is_true() -> None:
    original = GraphQLError("price failed")  # what from_rpc_error returns for unknown status
    assert should_mask(GraphQLError("price failed", original_error=original)) is True


def test_typed_error_carries_its_code_in_extensions() -> None:
    assert TypedError("UNAVAILABLE", "try again").extensions == {"code": "UNAVAILABLE"}


# --- import hygiene ----------------------------------------------------------------------


def test_importing_graph_schema_raises_no_deprecation_warning_from_graph() -> None:
    # The same filter pyproject.toml applies, in a fresh interpreter (nothing cached).
    code = (
        "import warnings\n"
        "warnings.filterwarnings('error', category=DeprecationWarning, module=r'graph\\..*')\n"
        "import graph.schema\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr[-2000:]


@pytest.mark.parametrize("text", ["1_000", " 12 ", "\uff11\uff12", "12\n"])
def test_parse_int64_of_string_that_is_not_plain_digits_raises_value_error(text: str) -> None:
    with pytest.raises(ValueError, match="string of digits"):
        _parse_int64(text)


# --- logging of unexpected errors ---------------------------------------------------------


async def test_many_failing_fields_log_one_error_record_per_request(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Every alias reaches for the missing backend: 30 masked errors, one log record.
    query = "{ " + " ".join(f'p{i}: price(symbol: "BTCUSDT") {{ price }}' for i in range(30)) + " }"
    with caplog.at_level(logging.ERROR):
        result = await schema.execute(query, context_value=None)
    assert result.errors is not None and len(result.errors) == 30
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert "30 unexpected error(s)" in errors[0].getMessage()
    assert errors[0].exc_info is not None  # the first traceback, for whoever debugs it


async def test_typed_errors_are_not_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR):
        await schema.execute('{ price(symbol: "not a symbol!") { price } }', context_value=None)
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
