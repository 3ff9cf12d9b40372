"""``quantflow backfill`` as a user runs it, against real storage and NATS and the fake REST
exchange: it fills a range, a rerun adds nothing, and Ctrl-C then a rerun completes."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import asyncpg
import pytest

from services.common.settings import Settings
from services.storage import service as storage_service
from tests.conftest import HFT_CAPTURE
from tests.fakes.binance_rest import FakeBinanceRest, trades_from_capture
from tests.integration.helpers import eventually, running, service_settings

pytestmark = pytest.mark.integration

TRADES = trades_from_capture(HFT_CAPTURE)["BTCUSDT"]
FIRST = TRADES[0]["id"]
QUANTFLOW = str(Path(sys.executable).with_name("quantflow"))


def _env(settings: Settings, rest_url: str, data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUANTFLOW_")}
    assert settings.nats_url is not None
    env.update(
        QUANTFLOW_NATS_URL=settings.nats_url,
        QUANTFLOW_STORAGE_TARGET=settings.storage_target,
        QUANTFLOW_NAMESPACE=settings.namespace,
        QUANTFLOW_BINANCE_REST_URL=rest_url,
        QUANTFLOW_DATA_DIR=str(data_dir),
    )
    return env


async def _start(
    env: dict[str, str], first: int, last: int, symbol: str = "BTCUSDT"
) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        QUANTFLOW,
        "backfill",
        symbol,
        "--kind",
        "trade",
        "--from",
        str(first),
        "--to",
        str(last),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def _run(
    env: dict[str, str], first: int, last: int, symbol: str = "BTCUSDT"
) -> tuple[int, str, str]:
    process = await _start(env, first, last, symbol)
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def _stored_ids(database_url: str) -> list[int]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch("SELECT trade_id FROM trades ORDER BY trade_id")
    finally:
        await conn.close()
    return [row["trade_id"] for row in rows]


async def test_backfill_fills_a_range_and_a_second_run_adds_nothing(
    database_url: str, nats_url: str, namespace: str, tmp_path: Path
) -> None:
    settings = service_settings(database_url, nats_url, namespace)
    last = FIRST + 2499
    async with (
        FakeBinanceRest(trades={"BTCUSDT": TRADES}) as rest,
        running(storage_service.run, settings, settings.storage_grpc_port),
    ):
        env = _env(settings, rest.url, tmp_path)
        code, out, err = await _run(env, FIRST, last)
        assert code == 0, err
        assert out.strip() == f"BTCUSDT trades {FIRST}-{last}: 2,500 fetched, all stored"
        assert "2,500/2,500 (100%)" in err
        assert await _stored_ids(database_url) == list(range(FIRST, last + 1))
        pages = len(rest.served("historicalTrades"))
        assert pages == 3

        code, out, err = await _run(env, FIRST, last)
    assert code == 0, err
    assert out.strip() == f"BTCUSDT trades {FIRST}-{last}: all stored already, nothing to fetch"
    assert len(rest.served("historicalTrades")) == pages
    assert await _stored_ids(database_url) == list(range(FIRST, last + 1))


async def test_ctrl_c_mid_way_then_a_rerun_completes_without_duplicates(
    database_url: str, nats_url: str, namespace: str, tmp_path: Path
) -> None:
    settings = service_settings(database_url, nats_url, namespace)
    last = FIRST + 4999
    async with (
        FakeBinanceRest(trades={"BTCUSDT": TRADES}, delay_s=0.5) as rest,
        running(storage_service.run, settings, settings.storage_grpc_port),
    ):
        env = _env(settings, rest.url, tmp_path)
        process = await _start(env, FIRST, last)

        async def two_pages_served() -> bool:
            return len(rest.served("historicalTrades")) >= 2

        await eventually(two_pages_served)
        process.send_signal(signal.SIGINT)
        _, err = await asyncio.wait_for(process.communicate(), 60)
        assert process.returncode == 130
        assert err.decode().strip().splitlines()[-1] == (
            "quantflow backfill: interrupted; run the same command again to fetch the rest"
        )
        assert "Traceback" not in err.decode()
        interrupted_pages = len(rest.served("historicalTrades"))
        assert interrupted_pages < 5

        rest.delay_s = 0.0
        code, _out, err2 = await _run(env, FIRST, last)
        assert code == 0, err2
        resumed = rest.served("historicalTrades")[interrupted_pages:]
    assert int(resumed[0].params["fromId"]) > FIRST
    assert await _stored_ids(database_url) == list(range(FIRST, last + 1))


async def test_a_symbol_binance_does_not_know_is_one_line_naming_it(
    database_url: str, nats_url: str, namespace: str, tmp_path: Path
) -> None:
    settings = service_settings(database_url, nats_url, namespace)
    async with (
        FakeBinanceRest() as rest,
        running(storage_service.run, settings, settings.storage_grpc_port),
    ):
        code, _out, err = await _run(_env(settings, rest.url, tmp_path), 1, 10, "NOPEUSDT")
    # The store lacks ids 1-10, so Binance is asked, and refuses the symbol.
    assert code == 1
    lines = err.strip().splitlines()
    assert lines[-1].startswith("quantflow backfill: ") and "Invalid symbol" in lines[-1]
    assert "Traceback" not in err
