"""Jobs through GraphQL: submitBacktest, optimize, job, jobs, cancelJob and the jobProgress
subscription, against the storage and backtest services (one worker) on real 1m klines."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import grpc
import pytest
import pytest_asyncio
from nats.aio.client import Client as NatsClient

from graph.context import Backends, Context
from graph.schema import schema
from quantflow.backtest.v1 import backtest_service_pb2_grpc
from quantflow.storage.v1 import storage_service_pb2_grpc
from services.backtest import service as backtest_service
from services.storage import service as storage_service
from services.storage import tables
from services.storage.repository import TradeRepository, prepare_connection
from tests.integration.helpers import running, service_settings
from tests.vision_klines import USDM_1M, klines

pytestmark = pytest.mark.integration

RANGE = (
    'symbol: "BTCUSDT", venue: "binance_usdm", interval: "1m", '
    'from: "2022-04-08T00:00:00Z", to: "2022-04-09T00:00:00Z", strategy: "sma_cross"'
)
OPTIMIZE = (
    f'backtest: {{{RANGE}}}, ranges: [{{name: "fast", start: 5, stop: 50, step: 5}}, '
    '{name: "slow", start: 20, stop: 200, step: 20}], constraints: ["fast < slow"], '
    'objective: "sharpe"'
)
JOB = "id kind state progress message error attempts createdAt startedAt finishedAt"


@dataclass
class Stack:
    context: Context

    async def query(self, document: str) -> dict[str, Any]:
        result = await schema.execute(document, context_value=self.context)
        assert result.errors is None, result.errors
        assert result.data is not None
        return result.data

    async def error(self, document: str) -> tuple[str, str]:
        result = await schema.execute(document, context_value=self.context)
        assert result.errors, result.data
        return result.errors[0].extensions["code"], result.errors[0].message  # type: ignore[index]

    async def follow(self, job_id: str) -> list[dict[str, Any]]:
        """Every jobProgress event until the job ends."""
        document = f'subscription {{ jobProgress(id: "{job_id}") {{ id state progress message }} }}'
        events = []
        stream = await schema.subscribe(document, context_value=self.context)
        assert not hasattr(stream, "errors"), stream
        async for result in stream:
            assert result.errors is None, result.errors
            assert result.data is not None
            events.append(result.data["jobProgress"])
        return events


@pytest_asyncio.fixture
async def stack(
    database_url: str, nats_url: str, namespace: str, nats_client: NatsClient
) -> AsyncIterator[Stack]:
    settings = service_settings(database_url, nats_url, namespace)
    async with (
        running(storage_service.run, settings, settings.storage_grpc_port),
        running(backtest_service.run, settings, settings.backtest_grpc_port),
    ):
        pool = await asyncpg.create_pool(
            database_url, min_size=1, max_size=2, init=prepare_connection
        )
        try:
            written = await TradeRepository(pool).write(
                tables.KLINES, klines(USDM_1M, "binance_usdm", "BTCUSDT", "1m")
            )
            assert written == 1440
        finally:
            await pool.close()
        async with (
            grpc.aio.insecure_channel(settings.storage_target) as storage,
            grpc.aio.insecure_channel(settings.backtest_target) as backtests,
        ):
            backends = Backends(
                storage=storage_service_pb2_grpc.StorageServiceStub(storage),
                nats=nats_client,
                namespace=namespace,
                backtest=backtest_service_pb2_grpc.BacktestServiceStub(backtests),
            )
            yield Stack(Context(backends))


async def test_optimize_returns_queued_job_then_progress_to_a_full_table(stack: Stack) -> None:
    job = (await stack.query(f"mutation {{ optimize(input: {{{OPTIMIZE}}}) {{ {JOB} }} }}"))[
        "optimize"
    ]
    assert (job["kind"], job["state"]) == ("OPTIMIZE", "QUEUED")
    events = await stack.follow(job["id"])
    progress = [event["progress"] for event in events]
    assert progress == sorted(progress)
    assert events[-1]["state"] == "SUCCEEDED"
    done = (
        await stack.query(
            f'{{ job(id: "{job["id"]}") {{ {JOB} result {{ __typename ... on OptimizeResult {{ '
            "objective skipped rows { params score metrics { sharpe finalEquity } } "
            "best { params score } } } } }"
        )
    )["job"]
    result = done["result"]
    assert result["__typename"] == "OptimizeResult"
    assert len(result["rows"]) + result["skipped"] == 100
    assert all(row["params"]["fast"] < row["params"]["slow"] for row in result["rows"])
    assert result["best"] == {k: result["rows"][0][k] for k in ("params", "score")}
    assert result["best"]["score"] == result["rows"][0]["metrics"]["sharpe"]
    assert done["progress"] == 1.0 and done["finishedAt"] is not None


async def test_optimised_best_row_agrees_with_run_backtest_of_its_params(stack: Stack) -> None:
    job = (await stack.query(f"mutation {{ optimize(input: {{{OPTIMIZE}}}) {{ id }} }}"))[
        "optimize"
    ]
    await stack.follow(job["id"])
    best = (
        await stack.query(
            f'{{ job(id: "{job["id"]}") {{ result {{ ... on OptimizeResult {{ '
            "best { params metrics { finalEquity trades } } } } } }"
        )
    )["job"]["result"]["best"]
    fast, slow = int(best["params"]["fast"]), int(best["params"]["slow"])
    direct = await stack.query(
        f"mutation {{ runBacktest(input: {{{RANGE}, params: {{fast: {fast}, slow: {slow}}}}}) "
        "{ metrics { finalEquity trades } } }"
    )
    assert direct["runBacktest"]["metrics"] == best["metrics"]


async def test_submitted_backtest_result_equals_run_backtest(stack: Stack) -> None:
    job = (await stack.query(f"mutation {{ submitBacktest(input: {{{RANGE}}}) {{ {JOB} }} }}"))[
        "submitBacktest"
    ]
    assert job["kind"] == "BACKTEST"
    events = await stack.follow(job["id"])
    assert events[-1]["state"] == "SUCCEEDED"
    done = await stack.query(
        f'{{ job(id: "{job["id"]}") {{ result {{ ... on BacktestResult {{ id fill '
        "metrics { finalEquity trades } } } } }"
    )
    direct = await stack.query(
        f"mutation {{ runBacktest(input: {{{RANGE}}}) {{ metrics {{ finalEquity trades }} }} }}"
    )
    result = done["job"]["result"]
    assert result["fill"] == "NEXT_OPEN"
    assert result["metrics"] == direct["runBacktest"]["metrics"]


async def test_jobs_pages_newest_first(stack: Stack) -> None:
    ids = [
        (await stack.query(f"mutation {{ submitBacktest(input: {{{RANGE}}}) {{ id }} }}"))[
            "submitBacktest"
        ]["id"]
        for _ in range(3)
    ]
    first = (
        await stack.query(
            "{ jobs(first: 2) { edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }"
        )
    )["jobs"]
    after = first["pageInfo"]["endCursor"]
    rest = (
        await stack.query(
            f'{{ jobs(first: 2, after: "{after}") {{ edges {{ node {{ id }} }} '
            "pageInfo { hasNextPage } } }"
        )
    )["jobs"]
    listed = [edge["node"]["id"] for edge in first["edges"] + rest["edges"]]
    assert first["pageInfo"]["hasNextPage"] and not rest["pageInfo"]["hasNextPage"]
    assert listed == list(reversed(ids))


async def test_cancel_finished_job_is_failed_precondition(stack: Stack) -> None:
    job_id = (await stack.query(f"mutation {{ submitBacktest(input: {{{RANGE}}}) {{ id }} }}"))[
        "submitBacktest"
    ]["id"]
    await stack.follow(job_id)
    code, message = await stack.error(f'mutation {{ cancelJob(id: "{job_id}") {{ id }} }}')
    assert code == "FAILED_PRECONDITION"
    assert "SUCCEEDED" in message


async def test_optimize_range_of_unknown_parameter_is_invalid_argument_naming_it(
    stack: Stack,
) -> None:
    bad = OPTIMIZE.replace('name: "fast"', 'name: "fats"').replace('"fast < slow"', '"fats < slow"')
    code, message = await stack.error(f"mutation {{ optimize(input: {{{bad}}}) {{ id }} }}")
    assert code == "INVALID_ARGUMENT"
    assert "fats" in message


async def test_job_of_unknown_id_is_not_found(stack: Stack) -> None:
    code, _ = await stack.error('{ job(id: "5b1f3c9e-8d2a-4c6b-9a51-2f7e0d4c8b13") { id } }')
    assert code == "NOT_FOUND"


async def test_walk_forward_reports_each_fold_in_and_out_of_sample(stack: Stack) -> None:
    windows = "walkForward: {trainBars: 600, testBars: 200, mode: ANCHORED}"
    job = (
        await stack.query(f"mutation {{ optimize(input: {{{OPTIMIZE}, {windows}}}) {{ id }} }}")
    )["optimize"]
    events = await stack.follow(job["id"])
    assert events[-1]["state"] == "SUCCEEDED"
    walk = (
        await stack.query(
            f'{{ job(id: "{job["id"]}") {{ request result {{ ... on OptimizeResult {{ '
            "walkForward { efficiency folds { trainFrom trainTo testFrom testTo "
            "inSample { params score } outOfSample { params } table { score } } } } } } }"
        )
    )["job"]
    folds = walk["result"]["walkForward"]["folds"]
    assert len(folds) == 4  # tests start at bars 600, 800, 1000, 1200 of 1440
    assert all(fold["trainFrom"] == "2022-04-08T00:00:00+00:00" for fold in folds)
    assert [fold["testFrom"] for fold in folds] == [fold["trainTo"] for fold in folds]
    assert all(fold["inSample"]["params"] == fold["outOfSample"]["params"] for fold in folds)
    assert all(fold["inSample"]["score"] == fold["table"][0]["score"] for fold in folds)
    assert walk["request"]["walkForward"] == {
        "trainBars": 600,
        "testBars": 200,
        "mode": "WALK_FORWARD_MODE_ANCHORED",
    }
