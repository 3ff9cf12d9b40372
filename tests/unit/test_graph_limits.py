"""graph/limits.py through the real schema, without servers.

Queries run with ``context_value=None``: a resolver that ran would reach for the missing
backend and add a masked error, so ``data is None`` with only the limit's error proves the
document was refused before any resolver (and any storage call) ran.
"""

from __future__ import annotations

from graphql import FragmentDefinitionNode, OperationDefinitionNode, parse

from graph.limits import (
    LIST_COST_MULTIPLIER,
    MAX_ALIASES,
    MAX_QUERY_COST,
    MAX_TOKENS,
    query_cost,
)
from graph.schema import schema


def _aliases_of_price(count: int) -> str:
    aliases = " ".join(f'p{i}: price(symbol: "BTCUSDT") {{ price }}' for i in range(count))
    return "{ " + aliases + " }"


def _cost(query: str) -> int:
    document = parse(query)
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    [operation] = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    return query_cost(schema._schema, operation, fragments)


async def test_5000_aliases_of_price_are_refused_before_any_resolver_runs() -> None:
    query = _aliases_of_price(5000)  # the ~200 KB document that once stalled the gateway
    result = await schema.execute(query, context_value=None)
    assert result.data is None
    assert result.errors is not None and len(result.errors) == 1
    assert f"more than {MAX_TOKENS} tokens" in result.errors[0].message


async def test_aliases_over_the_limit_are_refused_before_any_resolver_runs() -> None:
    result = await schema.execute(_aliases_of_price(MAX_ALIASES + 1), context_value=None)
    assert result.data is None
    assert result.errors is not None and len(result.errors) == 1
    assert f"{MAX_ALIASES + 1} aliases found. Allowed: {MAX_ALIASES}" in result.errors[0].message


async def test_aliases_at_the_limit_pass_validation() -> None:
    result = await schema.execute(_aliases_of_price(MAX_ALIASES), context_value=None)
    # Validated, so every resolver ran (and failed, having no backend): no limit error.
    assert result.errors is not None and len(result.errors) == MAX_ALIASES
    assert all(e.path and str(e.path[0]).startswith("p") for e in result.errors)


async def test_query_over_the_cost_limit_is_refused_with_its_cost() -> None:
    selection = "{ symbol price quantity tradeId tradeTimeMs tradeTime }"
    query = "{ " + " ".join(f"l{i}: prices {selection}" for i in range(20)) + " }"
    assert _cost(query) == 20 * (1 + LIST_COST_MULTIPLIER * 6) > MAX_QUERY_COST
    result = await schema.execute(query, context_value=None)
    assert result.data is None
    assert result.errors is not None and len(result.errors) == 1
    message = result.errors[0].message
    assert f"Query cost 1220 exceeds the limit of {MAX_QUERY_COST}" in message


def test_query_cost_counts_one_per_field_and_multiplies_under_a_list() -> None:
    assert _cost('{ price(symbol: "BTCUSDT") { price tradeId } }') == 3
    assert _cost("{ prices { symbol price } }") == 1 + LIST_COST_MULTIPLIER * 2


def test_query_cost_counts_fields_reached_through_fragments() -> None:
    query = """
        { prices { ...Both ... on Price { quantity } } }
        fragment Both on Price { symbol price }
    """
    assert _cost(query) == 1 + LIST_COST_MULTIPLIER * 3


def test_query_cost_of_nested_fragment_spreads_grows_without_recounting() -> None:
    # Each level spreads the next twice: 2^40 fields, costed in 40 steps thanks to memoising.
    levels = 40
    fragments = "\n".join(
        f"fragment F{i} on Price {{ ...F{i + 1} ...F{i + 1} }}" for i in range(levels)
    )
    query = f"{{ prices {{ ...F0 }} }}\n{fragments}\nfragment F{levels} on Price {{ price }}"
    assert _cost(query) == 1 + LIST_COST_MULTIPLIER * 2**levels


def test_query_cost_of_cyclic_fragments_is_finite() -> None:
    query = """
        { prices { ...A } }
        fragment A on Price { price ...B }
        fragment B on Price { symbol ...A }
    """
    assert _cost(query) == 1 + LIST_COST_MULTIPLIER * 2
