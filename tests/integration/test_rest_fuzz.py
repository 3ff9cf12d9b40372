"""The REST routes fuzzed from their own OpenAPI document with schemathesis against the
gateway over real storage and backtest services: whatever the parameters and bodies, no 5xx,
no hung request, and every answer of a documented status and shape.

Nothing is stored, so every backtest and optimisation the fuzzer asks for ends at "no candles
there" before any simulation: what is fuzzed is the routes, not the engine."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from nats.aio.client import Client as NatsClient
from schemathesis.specs.openapi.checks import positive_data_acceptance

from graph.api_docs import document
from services.alerts import service as alerts_service
from services.backtest import service as backtest_service
from services.common.settings import Settings
from services.storage import service as storage_service
from tests.integration.graph_helpers import gateway
from tests.integration.helpers import running, service_settings

pytestmark = pytest.mark.integration

SCHEMA = schemathesis.openapi.from_dict(document())
_START_TIMEOUT_S = 60


async def _serve(settings: Settings, ready: threading.Event, stop: threading.Event) -> None:
    async with (
        running(storage_service.run, settings, settings.storage_grpc_port),
        running(backtest_service.run, settings, settings.backtest_grpc_port),
        running(alerts_service.run, settings, settings.alerts_grpc_port),
        gateway(settings),
    ):
        ready.set()
        await asyncio.to_thread(stop.wait)


@pytest.fixture
def gateway_url(
    database_url: str, nats_url: str, namespace: str, nats_client: NatsClient
) -> Iterator[str]:
    """Storage, backtest and the gateway on their own event loop in a thread: schemathesis calls are
    synchronous and would otherwise block the loop serving them."""
    settings = service_settings(database_url, nats_url, namespace)
    ready, stop = threading.Event(), threading.Event()
    failure: list[BaseException] = []

    def serve() -> None:
        try:
            asyncio.run(_serve(settings, ready, stop))
        except BaseException as error:  # reported to the test below
            failure.append(error)
            ready.set()

    thread = threading.Thread(target=serve, name="gateway-under-fuzz")
    thread.start()
    try:
        assert ready.wait(_START_TIMEOUT_S), "the gateway did not start"
        assert not failure, failure
        yield f"http://127.0.0.1:{settings.graph_port}"
    finally:
        stop.set()
        thread.join(_START_TIMEOUT_S)
    assert not failure, failure


@SCHEMA.parametrize()
@settings(
    max_examples=40,
    deadline=None,
    # The same cases every run (CI is deterministic) and no example database left behind.
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_no_route_answers_500_or_off_its_document(
    case: schemathesis.Case[Any], gateway_url: str
) -> None:
    # Every check but "schema-valid data is accepted": the document cannot state every rule
    # (an interval Binance knows, from before to, a strategy that exists), and the answer to
    # data breaking one is a typed 400, which the other checks hold to its documented shape.
    case.call_and_validate(
        base_url=gateway_url, timeout=30, excluded_checks=[positive_data_acceptance]
    )
