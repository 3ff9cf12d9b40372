"""graph/rest.py, graph/rest_operations.py, graph/openapi.py and graph/api_docs.py without
servers: error mapping, query parameters as variables, every route's document valid and
within the query limits, the OpenAPI document valid, the docs page offline."""

from __future__ import annotations

import re

import httpx
import pytest
from graphql import GraphQLError, parse, validate
from openapi_spec_validator import validate as validate_openapi

from graph import ide
from graph.api_docs import SWAGGER_UI_ASSETS, docs_html, document
from graph.app import create_app
from graph.limits import MAX_QUERY_COST, query_cost
from graph.rest import rest_error, variable_types, variables_from_request
from graph.rest_operations import OPERATIONS, Operation
from graph.schema import schema

HISTORY = next(op for op in OPERATIONS if op.path == "/history/{symbol}")
PRICES = next(op for op in OPERATIONS if op.path == "/prices")


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.path)
def test_every_route_document_is_valid_and_within_the_query_limits(operation: Operation) -> None:
    document = parse(operation.document)
    assert validate(schema._schema, document) == []
    [definition] = document.definitions
    assert query_cost(schema._schema, definition, {}) <= MAX_QUERY_COST  # type: ignore[arg-type]
    # Every path parameter is a parameter; every parameter is a variable.
    assert set(re.findall(r"{(\w+)}", operation.path)) == {
        p.name for p in operation.params if p.where == "path"
    }
    assert {p.name for p in operation.params} <= set(variable_types(operation))


def test_typed_error_keeps_its_code_and_message() -> None:
    error = rest_error([GraphQLError("no trade", extensions={"code": "NOT_FOUND"})])
    assert (error.code, error.message, error.status) == ("NOT_FOUND", "no trade", 404)
    assert rest_error([GraphQLError("x", extensions={"code": "UNAVAILABLE"})]).status == 503


def test_request_error_without_a_path_is_invalid_argument() -> None:
    error = rest_error([GraphQLError("Variable '$from' got invalid value 'x'")])
    assert (error.code, error.status) == ("INVALID_ARGUMENT", 400)


def test_masked_fault_is_internal_with_nothing_of_its_cause() -> None:
    error = rest_error([GraphQLError("Unexpected error.", path=["price"])])
    assert (error.code, error.message, error.status) == ("INTERNAL", "Unexpected error.", 500)


def test_an_unknown_code_is_internal() -> None:
    assert rest_error([GraphQLError("x", extensions={"code": "TEAPOT"})]).status == 500


def test_query_parameters_become_variables_ints_parsed_lists_repeated() -> None:
    variables = variables_from_request(
        HISTORY,
        variable_types(HISTORY),
        {"symbol": "BTCUSDT"},
        {"first": ["25"], "from": ["2024-01-01T00:00:00Z"], "ignored": ["x"]},
    )
    assert variables == {"symbol": "BTCUSDT", "first": 25, "from": "2024-01-01T00:00:00Z"}
    listed = variables_from_request(
        PRICES, variable_types(PRICES), {}, {"symbols": ["BTCUSDT", "ETHUSDT"]}
    )
    assert listed == {"symbols": ["BTCUSDT", "ETHUSDT"]}


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ({"first": ["ten"]}, "first: 'ten' is not an integer"),
        ({"first": ["1", "2"]}, "first: give it once, not 2 times"),
    ],
)
def test_bad_query_parameters_are_named(query: dict[str, list[str]], named: str) -> None:
    with pytest.raises(ValueError, match=re.escape(named)):
        variables_from_request(HISTORY, variable_types(HISTORY), {"symbol": "BTCUSDT"}, query)


def test_openapi_document_is_valid_3_1_and_lists_every_route() -> None:
    openapi = document()
    validate_openapi(openapi)
    listed = {(path, method.upper()) for path, ops in openapi["paths"].items() for method in ops}
    assert listed == {(op.path, op.method) for op in OPERATIONS}
    run = openapi["paths"]["/backtest/run"]["post"]
    assert run["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/BacktestInput"
    }
    backtest_input = openapi["components"]["schemas"]["BacktestInput"]
    assert backtest_input["required"] == ["symbol", "interval", "from", "to", "strategy"]
    assert backtest_input["properties"]["fill"]["default"] == "NEXT_OPEN"


def test_docs_page_loads_only_vendored_assets() -> None:
    page = docs_html()
    loaded = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert loaded and not [url for url in loaded if "://" in url]
    for url in loaded:
        if url.startswith(ide.STATIC_PATH):
            assert (ide.STATIC_DIR / url.removeprefix(ide.STATIC_PATH + "/")).is_file(), url
    assert {p.name for p in SWAGGER_UI_ASSETS.iterdir()} >= {
        "swagger-ui-bundle.js",
        "swagger-ui.css",
        "LICENSE.swagger-ui",
    }
    assert "validatorUrl: null" in page


async def test_rest_route_before_start_up_is_unavailable_and_docs_are_served() -> None:
    app = create_app("nats://127.0.0.1:1", "127.0.0.1:1", "", ingest_target="127.0.0.1:1")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        price = await client.get("/price/BTCUSDT")
        openapi = await client.get("/openapi.json")
        docs = await client.get("/docs")
    assert price.status_code == 503
    assert price.json()["error"]["code"] == "UNAVAILABLE"
    assert openapi.status_code == 200 and openapi.json()["openapi"] == "3.1.0"
    assert docs.status_code == 200 and "SwaggerUIBundle" in docs.text


async def test_a_bad_variable_reaches_graphql_clients_named_not_masked() -> None:
    result = await schema.execute(
        'query($from: DateTime) { history(symbol: "BTCUSDT", from: $from) { edges { cursor } } }',
        variable_values={"from": "yesterday"},
        context_value=None,
    )
    assert result.errors is not None and len(result.errors) == 1
    assert "yesterday" in result.errors[0].message
    assert result.errors[0].message.startswith("Variable '$from'")
