"""graph/federation.py, graph/loaders.py and services/cli/supergraph.py without servers: the
schema is a Federation 2 subgraph, its committed SDL is current, entity keys are checked, and
latest prices are loaded one call a venue."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import grpc
import pytest
from strawberry.dataloader import DataLoader

from graph.errors import TypedError
from graph.loaders import SymbolKey, load_latest_prices
from graph.schema import schema
from quantflow.storage.v1 import storage_service_pb2 as storage_pb
from services.cli.supergraph import SDL_FILE, check_schema, current_sdl, stale_diff


def test_committed_sdl_is_what_the_schema_prints() -> None:
    # Stale after a schema change: `quantflow dev export-schema` rewrites it.
    assert stale_diff(SDL_FILE.read_text(encoding="utf-8"), current_sdl()) == []


def test_check_schema_fails_on_a_stale_file_naming_the_command_that_fixes_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stale = tmp_path / "schema.graphql"
    stale.write_text(current_sdl().replace("type Symbol", "type Ticker2"), encoding="utf-8")
    assert check_schema(stale) == 1
    out = capsys.readouterr().out
    assert "quantflow dev export-schema" in out and "+type Symbol" in out


def test_stale_diff_names_a_changed_line() -> None:
    diff = stale_diff("type A {\n  x: Int\n}\n", "type A {\n  y: Int\n}\n")
    assert "-  x: Int" in diff and "+  y: Int" in diff


def test_sdl_links_federation_2_and_keys_symbol_by_name_and_venue() -> None:
    sdl = current_sdl()
    assert sdl.startswith('schema @link(url: "https://specs.apollo.dev/federation/v2.')
    assert 'type Symbol @key(fields: "name venue")' in sdl
    assert "union _Entity = Symbol" in sdl


async def test_service_sdl_answers_the_same_sdl_the_file_holds() -> None:
    result = await schema.execute("{ _service { sdl } }", context_value=None)
    assert result.errors is None and result.data is not None
    assert "Symbol @key" in result.data["_service"]["sdl"]


async def test_entity_with_a_malformed_name_is_invalid_argument_for_that_entity_only() -> None:
    query = """query($r: [_Any!]!) { _entities(representations: $r) {
        ... on Symbol { name venue } } }"""
    representations = [
        {"__typename": "Symbol", "name": "btcusdt", "venue": "binance_usdm"},
        {"__typename": "Symbol", "name": "BTC-USD", "venue": "binance"},
        {"__typename": "Symbol", "name": "ETHUSDT", "venue": "nasdaq"},
    ]
    result = await schema.execute(query, variable_values={"r": representations}, context_value=None)
    assert result.data == {"_entities": [{"name": "BTCUSDT", "venue": "binance_usdm"}, None, None]}
    assert result.errors is not None
    assert sorted(e.extensions["code"] for e in result.errors if e.extensions) == [
        "INVALID_ARGUMENT",
        "INVALID_ARGUMENT",
    ]
    assert [e.path for e in result.errors] == [["_entities", 1], ["_entities", 2]]


async def test_symbol_query_checks_its_arguments_before_any_backend() -> None:
    result = await schema.execute('{ symbol(name: "a b") { name } }', context_value=None)
    assert result.data is None
    assert result.errors is not None and result.errors[0].extensions == {"code": "INVALID_ARGUMENT"}


class _RecordingStorage:
    """Answers ListLatestPrices from a table and records each request."""

    def __init__(self, prices: Sequence[storage_pb.LatestPrice], down: set[str]) -> None:
        self.prices = prices
        self.down = down
        self.requests: list[storage_pb.ListLatestPricesRequest] = []

    async def ListLatestPrices(
        self, request: storage_pb.ListLatestPricesRequest, timeout: float
    ) -> storage_pb.ListLatestPricesResponse:
        self.requests.append(request)
        if request.venue in self.down:
            raise grpc.aio.AioRpcError(
                grpc.StatusCode.UNAVAILABLE, grpc.aio.Metadata(), grpc.aio.Metadata(), "down"
            )
        return storage_pb.ListLatestPricesResponse(
            prices=[
                p for p in self.prices if p.venue == request.venue and p.symbol in request.symbols
            ]
        )


def _price(symbol: str, venue: str, price: str) -> storage_pb.LatestPrice:
    return storage_pb.LatestPrice(symbol=symbol, venue=venue, price=price, trade_id=1)


async def test_latest_prices_load_one_call_a_venue_in_key_order_none_when_not_stored() -> None:
    storage = _RecordingStorage(
        [_price("BTCUSDT", "binance", "1"), _price("BTCUSDT", "binance_usdm", "2")], set()
    )

    async def load(keys: list[SymbolKey]) -> list[storage_pb.LatestPrice | BaseException | None]:
        return await load_latest_prices(storage, keys)

    loader = DataLoader(load_fn=load, cache=False)
    keys = [("BTCUSDT", "binance_usdm"), ("ETHUSDT", "binance"), ("BTCUSDT", "binance")]
    found = await loader.load_many(keys)
    assert [None if p is None else p.price for p in found] == ["2", None, "1"]
    assert sorted((r.venue, list(r.symbols)) for r in storage.requests) == [
        ("binance", ["BTCUSDT", "ETHUSDT"]),
        ("binance_usdm", ["BTCUSDT"]),
    ]


async def test_latest_prices_of_a_venue_whose_call_fails_are_typed_errors_the_rest_answer() -> None:
    storage = _RecordingStorage([_price("BTCUSDT", "binance", "1")], {"binance_usdm"})
    found = await load_latest_prices(
        storage,
        [("BTCUSDT", "binance"), ("BTCUSDT", "binance_usdm")],
    )
    assert isinstance(found[0], storage_pb.LatestPrice)
    assert isinstance(found[1], TypedError)
    assert found[1].extensions == {"code": "UNAVAILABLE"}


@pytest.mark.parametrize(
    ("representation", "named"),
    [
        (1, "an object with __typename"),
        ({}, "__typename None is no entity"),
        ({"__typename": "Query"}, "__typename 'Query' is no entity of this subgraph (Symbol)"),
        ({"__typename": "Symbol"}, "missing name"),
        ({"__typename": "Symbol", "name": "BTCUSDT", "price": "1"}, "no key field price"),
        ({"__typename": "Symbol", "name": 5}, "name must be a string"),
    ],
)
async def test_a_malformed_representation_is_invalid_argument_for_that_entity_alone(
    representation: object, named: str
) -> None:
    good = {"__typename": "Symbol", "name": "ethusdt"}
    result = await schema.execute(
        "query($r: [_Any!]!) { _entities(representations: $r) { ... on Symbol { name } } }",
        variable_values={"r": [good, representation]},
        context_value=None,
    )
    assert result.data == {"_entities": [{"name": "ETHUSDT"}, None]}
    assert result.errors is not None and len(result.errors) == 1
    error = result.errors[0]
    assert error.extensions == {"code": "INVALID_ARGUMENT"} and error.path == ["_entities", 1]
    assert named in error.message
    assert good == {"__typename": "Symbol", "name": "ethusdt"}  # the caller's, untouched
