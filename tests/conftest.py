"""Fixtures: real PostgreSQL and NATS (embedded unless QUANTFLOW_*_URL say otherwise), with
unique databases and namespaces per test so tests never see each other's data."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import nats
import pytest
import pytest_asyncio
from nats.aio.client import Client as NatsClient
from nats.js.errors import NotFoundError

from services.common import names
from services.common.embedded import start_nats, start_postgres

FIXTURES = Path(__file__).parent / "fixtures" / "binance"
HFT_CAPTURE = FIXTURES / "binance_spot_btcusdt_2024-08-08.hftbacktest.gz"
SAMPLE_CAPTURE = FIXTURES / "binance_spot_btcusdt_2024-08-08.sample.jsonl"
USDM_CAPTURE = FIXTURES / "binance_usdm_btcusdt_2022-08-11.sample.jsonl"


def with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


@pytest.fixture(scope="session")
def postgres_admin_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A PostgreSQL server to create test databases on."""
    external = os.environ.get("QUANTFLOW_DATABASE_URL")
    if external:
        yield external
        return
    server = start_postgres(tmp_path_factory.mktemp("postgres") / "data")
    try:
        yield server.dsn("postgres")
    finally:
        server.delete()


@pytest.fixture(scope="session")
def nats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A NATS server with JetStream."""
    external = os.environ.get("QUANTFLOW_NATS_URL")
    if external:
        yield external
        return
    server = start_nats(tmp_path_factory.mktemp("nats"))
    try:
        yield server.url
    finally:
        server.delete()


@pytest_asyncio.fixture
async def database_url(postgres_admin_url: str) -> AsyncIterator[str]:
    """A fresh, empty database of its own for one test."""
    name = f"qf_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(postgres_admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    yield with_database(postgres_admin_url, name)
    admin = await asyncpg.connect(postgres_admin_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
def namespace() -> str:
    """A bus namespace of its own: streams T<id>_MARKET, subjects t<id>.market.…"""
    return f"t{uuid.uuid4().hex[:12]}"


@pytest_asyncio.fixture
async def nats_client(nats_url: str, namespace: str) -> AsyncIterator[NatsClient]:
    """A connection for the test itself; deletes the namespace's streams afterwards."""
    nc = await nats.connect(nats_url)
    yield nc
    js = nc.jetstream()
    for stream in (
        names.market_stream(namespace),
        names.deadletter_stream(namespace),
        names.jobs_stream(namespace),
    ):
        try:
            await js.delete_stream(stream)
        except NotFoundError:
            pass
    for bucket in (
        names.market_subscriptions_bucket(namespace),
        names.replay_checkpoint_bucket(namespace),
    ):
        try:
            await js.delete_key_value(bucket)
        except NotFoundError:
            pass
    await nc.close()
