"""Lists of scalars completed in one pass (graph.columnar) answer exactly as graphql-core's
item-by-item path, errors included."""

from __future__ import annotations

from typing import Any

import pytest
import strawberry
from strawberry.schema.config import StrawberryConfig

from graph import columnar
from graph.columnar import ColumnarExecutionContext
from graph.scalars import SCALAR_MAP, Int64

_LISTS: dict[str, Any] = {}


@strawberry.type
class _Query:
    @strawberry.field
    def times(self) -> list[Int64]:
        return list(_LISTS["times"])

    @strawberry.field
    def values(self) -> list[float | None]:
        return list(_LISTS["values"])

    @strawberry.field
    def names(self) -> list[str]:
        return list(_LISTS["names"])


def _schemas() -> tuple[strawberry.Schema, strawberry.Schema]:
    config = StrawberryConfig(scalar_map=SCALAR_MAP)
    return (
        strawberry.Schema(query=_Query, config=config),
        strawberry.Schema(
            query=_Query, config=config, execution_context_class=ColumnarExecutionContext
        ),
    )


async def _both(document: str) -> tuple[Any, Any]:
    plain, columnar = _schemas()
    first, second = await plain.execute(document), await columnar.execute(document)
    return (
        (first.data, [e.formatted for e in first.errors or []]),
        (second.data, [e.formatted for e in second.errors or []]),
    )


async def test_scalar_lists_are_the_same_as_graphql_cores() -> None:
    _LISTS.update(times=[Int64(2**53 + 1), Int64(0)], values=[1.5, None, -2.0], names=["a", "b"])
    plain, columnar = await _both("{ times values names }")
    assert plain == columnar
    assert columnar[0] == {
        "times": ["9007199254740993", "0"],
        "values": [1.5, None, -2.0],
        "names": ["a", "b"],
    }


async def test_a_null_in_a_non_null_list_is_the_same_error() -> None:
    _LISTS.update(times=[Int64(1), None], values=[], names=["a", None])
    plain, columnar = await _both("{ names }")
    assert plain == columnar
    assert columnar[1] and columnar[0] is None


async def test_a_value_that_does_not_serialize_is_the_same_error() -> None:
    _LISTS.update(times=[Int64(1), "x"], values=["not a float"], names=[])
    plain, columnar = await _both("{ times }")
    assert plain == columnar and columnar[1]
    plain, columnar = await _both("{ values }")
    assert plain == columnar and columnar[1]


async def test_the_one_pass_path_is_the_one_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    one_pass = columnar._serialized

    def counted(item_type: Any, items: list[Any], non_null: bool) -> list[Any] | None:
        calls.append(len(items))
        return one_pass(item_type, items, non_null)

    monkeypatch.setattr(columnar, "_serialized", counted)
    _LISTS.update(times=[Int64(1)] * 5, values=[0.5] * 3, names=[])
    _, with_it = _schemas()
    assert (await with_it.execute("{ times values }")).errors is None
    assert calls == [5, 3]
