"""Lists of scalars completed in one pass: what makes columnar series cheap to serve.

graphql-core completes a list item by item (a path, an awaitable check and a completion
call each), about 10 µs a value here: a year of hourly candles, nine lists of 8,760, took
0.7 s. A list of a scalar type whose items are plain values needs only each value
serialized; that is done here in one comprehension. Anything else, or any item that does
not serialize cleanly (a null where it is not allowed, an awaitable, a bad value), takes
graphql-core's own path, which reports the error exactly as before.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLLeafType,
    GraphQLNonNull,
    GraphQLOutputType,
    GraphQLScalarType,
)
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext


class ColumnarExecutionContext(StrawberryGraphQLCoreExecutionContext):
    def complete_iterable_value(
        self,
        item_type: GraphQLOutputType,
        field_details_list: Any,
        info: Any,
        path: Any,
        items: Iterable[Any],
        position_context: Any,
    ) -> Any:
        non_null = isinstance(item_type, GraphQLNonNull)
        inner = item_type.of_type if isinstance(item_type, GraphQLNonNull) else item_type
        if (
            isinstance(items, list)
            and isinstance(inner, GraphQLScalarType | GraphQLEnumType)
            and self.get_stream_usage(field_details_list, path) is None
        ):
            completed = _serialized(inner, items, non_null)
            if completed is not None:
                return completed
        return super().complete_iterable_value(
            item_type, field_details_list, info, path, items, position_context
        )


def _serialized(item_type: GraphQLLeafType, items: list[Any], non_null: bool) -> list[Any] | None:
    """Every item serialized, or None when one needs graphql-core's own handling."""
    serialize = item_type.serialize
    try:
        if non_null:
            values = [serialize(item) for item in items]
            return None if None in values else values
        return [None if item is None else serialize(item) for item in items]
    except Exception:
        return None
