"""Prometheus metrics of the GraphQL API, from a schema extension (so `/graphql`, the REST
routes and WebSocket subscriptions are all counted): requests by operation and error code,
their latency, and the subscriptions open now.

The ``operation`` label is the operation type and its top-level field (``query:symbol``),
never the client's operation name: labels must stay few whatever clients send. A document
asking for several top-level fields is ``query:(several)``; one that fails before its fields
are known (a parse or validation error) is ``query:(invalid)``.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Iterator
from typing import Final

from graphql import FieldNode, GraphQLError, OperationDefinitionNode
from graphql import OperationType as GraphQLOperationType
from prometheus_client import Counter, Gauge, Histogram
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

REQUESTS = Counter(
    "quantflow_graph_requests",
    "GraphQL operations (REST routes included) by operation and outcome code (OK or the "
    "first error's extensions.code)",
    ["operation", "code"],
)
REQUEST_SECONDS = Histogram(
    "quantflow_graph_request_seconds",
    "Time to answer a query or mutation, parse to response",
    ["operation"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
ACTIVE_SUBSCRIPTIONS = Gauge(
    "quantflow_graph_active_subscriptions",
    "Subscriptions open now, by field",
    ["operation"],
)
OK: Final = "OK"
INVALID: Final = "(invalid)"
SEVERAL: Final = "(several)"
_INTROSPECTION: Final = frozenset({"__typename", "__schema", "__type"})


def outcome_code(errors: list[GraphQLError] | None) -> str:
    """OK, the first typed error's code, INVALID_ARGUMENT for a request error (parse,
    validation, a bad variable: no path) or INTERNAL for a masked fault."""
    if not errors:
        return OK
    for error in errors:
        code = (error.extensions or {}).get("code")
        if isinstance(code, str):
            return code
    if any(error.path is None for error in errors):
        return "INVALID_ARGUMENT"
    return "INTERNAL"


def operation_label(
    kind: OperationType | None,
    definition: OperationDefinitionNode | None,
    root_fields: Collection[str],
) -> str:
    """``type:field`` for a document of one top-level field the schema has; a field the
    schema lacks is ``(invalid)`` (so a label is always one of the schema's fields)."""
    prefix = kind.value if kind is not None else "query"
    if definition is None:
        return f"{prefix}:{INVALID}"
    selections = definition.selection_set.selections
    fields = {s.name.value for s in selections if isinstance(s, FieldNode)}
    if not fields <= {*root_fields, *_INTROSPECTION} or not fields:
        return f"{prefix}:{INVALID}"
    if len(fields) != 1 or len(selections) != 1:
        return f"{prefix}:{SEVERAL}"
    return f"{prefix}:{fields.pop()}"


class GraphMetrics(SchemaExtension):
    """Counts each operation once it ends; a subscription is active from its successful
    start until its stream closes (the client completed or went away)."""

    def __init__(self) -> None:
        self._subscribed: str | None = None

    def _operation(self) -> str:
        context = self.execution_context
        definition: OperationDefinitionNode | None = None
        document = context.graphql_document
        if document is not None:
            definitions = [
                d for d in document.definitions if isinstance(d, OperationDefinitionNode)
            ]
            name = context.operation_name
            chosen = [d for d in definitions if name is None or (d.name and d.name.value == name)]
            definition = chosen[0] if len(chosen) == 1 else None
        try:
            kind = context.operation_type
        except Exception:  # no operation could be chosen from the document
            kind = None
        root = None
        if kind is not None:
            root = context.schema._schema.get_root_type(GraphQLOperationType(kind.value))
        return operation_label(kind, definition, root.fields if root is not None else ())

    def on_execute(self) -> Iterator[None]:
        yield
        context = self.execution_context
        if context.operation_type is OperationType.SUBSCRIPTION and not (
            context.result is not None and context.result.errors
        ):
            self._subscribed = self._operation()
            ACTIVE_SUBSCRIPTIONS.labels(self._subscribed).inc()

    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            if self._subscribed is not None:
                ACTIVE_SUBSCRIPTIONS.labels(self._subscribed).dec()
                REQUESTS.labels(self._subscribed, OK).inc()
            else:
                operation = self._operation()
                result = self.execution_context.result
                errors = (
                    result.errors if result is not None else None
                ) or self.execution_context.pre_execution_errors
                REQUESTS.labels(operation, outcome_code(errors)).inc()
                if not operation.startswith(OperationType.SUBSCRIPTION.value):
                    REQUEST_SECONDS.labels(operation).observe(time.perf_counter() - started)
