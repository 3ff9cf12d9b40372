"""The gateway's Prometheus metrics: each operation counted once under ``type:field`` with
its outcome code, queries timed, labels bounded by the schema whatever the client sends."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from graph.context import Backends, Context
from graph.metrics import outcome_code
from graph.schema import schema


def _count(operation: str, code: str) -> float:
    value = REGISTRY.get_sample_value(
        "quantflow_graph_requests_total", {"operation": operation, "code": code}
    )
    return value or 0.0


def _timed(operation: str) -> float:
    value = REGISTRY.get_sample_value(
        "quantflow_graph_request_seconds_count", {"operation": operation}
    )
    return value or 0.0


def _no_backends() -> Context:
    return Context(Backends(storage=None, nats=None, namespace="t"))


@pytest.mark.parametrize(
    ("document", "operation", "code"),
    [
        ("{ strategies { name } }", "query:strategies", "UNAVAILABLE"),
        ('{ symbol(name: "BTC/USDT") { name } }', "query:symbol", "INVALID_ARGUMENT"),
        ('{ symbol(name: "BTCUSDT") { name venue } }', "query:symbol", "OK"),
        ("{ a: __typename b: __typename }", "query:(several)", "OK"),
        ("{ secretField }", "query:(invalid)", "INVALID_ARGUMENT"),
        ("{ broken(", "query:(invalid)", "INVALID_ARGUMENT"),
        (
            'mutation { deleteAlertRule(id: "x") }',
            "mutation:deleteAlertRule",
            "UNAVAILABLE",
        ),
    ],
)
async def test_each_operation_is_counted_once_with_its_code_and_timed(
    document: str, operation: str, code: str
) -> None:
    before, timed = _count(operation, code), _timed(operation)
    await schema.execute(document, context_value=_no_backends())
    assert _count(operation, code) == before + 1
    assert _timed(operation) == timed + 1


async def test_a_clients_operation_name_is_not_a_label() -> None:
    before = _count("query:symbol", "OK")
    await schema.execute(
        'query MyVeryOwnName { symbol(name: "ETHUSDT") { name } }', context_value=_no_backends()
    )
    assert _count("query:symbol", "OK") == before + 1
    labels = {
        sample.labels.get("operation")
        for family in REGISTRY.collect()
        if family.name == "quantflow_graph_requests"
        for sample in family.samples
    }
    assert not any("MyVeryOwnName" in str(label) for label in labels)


def test_outcome_code_of_no_errors_is_ok() -> None:
    assert outcome_code(None) == "OK" and outcome_code([]) == "OK"
