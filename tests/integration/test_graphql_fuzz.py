"""/graphql fed malformed documents and bodies (hypothesis): every answer is a GraphQL error
or data, never a 500, a traceback or a hung request. The gateway runs its real lifespan on
a real NATS; storage is unreachable, so a document that does get executed fails fast."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graph.app import create_app

pytestmark = pytest.mark.integration

_HUNG_S = 30.0

# Pieces of real documents, so the fuzzer reaches past the lexer into parsing, validation,
# the limits and execution.
TOKENS = st.sampled_from(
    [
        "{", "}", "(", ")", "[", "]", ":", ",", "!", "$", "@", "...", "=", "|", "&", '"',
        '"""', "#", "\n", " ", "query", "mutation", "subscription", "fragment", "on",
        "price", "prices", "symbol", "history", "ohlc", "indicators", "coverage", "_entities",
        "_service", "sdl", "__typename", "__schema", "types", "name", "a:", "$s", "String!",
        '"BTCUSDT"', "1", "-9999999999999999999999", "1e400", "true", "null", "edges", "node",
        "first", "after", "include(if: true)", "skip", "representations",
    ]
)  # fmt: skip
DOCUMENTS = st.lists(TOKENS, max_size=60).map("".join) | st.text(max_size=200)
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=10,
)
# Valid documents whose variables are anything at all: the schema's coercion is fuzzed.
TEMPLATES = st.sampled_from(
    [
        'query($s: String!, $v: String! = "binance") { price(symbol: $s, venue: $v) { price } }',
        "query($s: [String!]) { prices(symbols: $s) { symbol } }",
        "query($s: String!, $f: Int, $a: String, $from: DateTime) "
        "{ history(symbol: $s, first: $f, after: $a, from: $from) { edges { cursor } } }",
        "query($s: String!, $i: String!, $from: DateTime!, $to: DateTime!, $x: [String!]!) "
        "{ indicators(symbol: $s, interval: $i, from: $from, to: $to, specs: $x) { source } }",
        "query($r: [_Any!]!) { _entities(representations: $r) { ... on Symbol { name } } }",
        "mutation($i: BacktestInput!) { runBacktest(input: $i) { id } }",
        "query($id: ID!) { job(id: $id) { state } }",
    ]
)
TEMPLATED = st.fixed_dictionaries(
    {"query": TEMPLATES, "variables": st.dictionaries(st.sampled_from(
        ["s", "v", "f", "a", "from", "to", "i", "x", "r", "id"]), JSON_VALUES)}
)  # fmt: skip
BODIES = (
    TEMPLATED
    | st.fixed_dictionaries(
        {"query": DOCUMENTS | JSON_VALUES},
        optional={"variables": JSON_VALUES, "operationName": JSON_VALUES},
    )
    | JSON_VALUES.map(lambda v: {"query": v})
)


@pytest_asyncio.fixture
async def client(nats_url: str, namespace: str) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(nats_url, "127.0.0.1:1", namespace, ingest_target="127.0.0.1:1")
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://gateway") as http,
    ):
        yield http


def _check(response: httpx.Response) -> None:
    assert response.status_code in (200, 400), (response.status_code, response.text)
    assert "Traceback" not in response.text and 'File "' not in response.text
    if not response.headers["content-type"].startswith("application/json"):
        # Strawberry refuses a body with no usable query in a line of text (400).
        assert response.status_code == 400 and len(response.text) < 200, response.text
        return
    body: Any = response.json()
    assert isinstance(body, dict) and ("data" in body or "errors" in body), body
    # Bad input is the client's to fix: named, never an "Unexpected error." (a fault).
    assert "Unexpected error." not in response.text, body


async def test_malformed_documents_and_bodies_get_graphql_errors_not_500(
    client: httpx.AsyncClient,
) -> None:
    seen: list[int] = []
    loop = asyncio.get_running_loop()

    @settings(
        max_examples=300,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(body=BODIES)
    def run(body: dict[str, Any]) -> None:
        # hypothesis drives a sync function, in a thread: each example is sent on the test's
        # event loop, and one that takes longer than the timeout fails as hung.
        request = client.post("/graphql", json=body)
        response = asyncio.run_coroutine_threadsafe(request, loop).result(_HUNG_S)
        seen.append(response.status_code)
        _check(response)

    await asyncio.to_thread(run)
    assert len(seen) == 300
