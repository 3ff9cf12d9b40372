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
from tests.conftest import FIXTURES, HFT_CAPTURE
from tests.fakes.binance_rest import (
    FakeBinanceRest,
    agg_trades_from_capture,
    klines_from_csv,
    monthly_klines,
    trades_from_capture,
)
from tests.integration.helpers import eventually, running, service_settings

pytestmark = pytest.mark.integration

TRADES = trades_from_capture(HFT_CAPTURE)["BTCUSDT"]
FIRST = TRADES[0]["id"]
AGGS = agg_trades_from_capture(FIXTURES / "binance_spot_ws_2021-04-04_kline_aggtrade.jsonl")[
    "BTCUSDT"
]
KLINES = klines_from_csv(FIXTURES / "ETHUSDT-1m-2022-08-14.csv")
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
    env: dict[str, str],
    first: int | str,
    last: int | str,
    symbol: str = "BTCUSDT",
    kind: str = "trade",
) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        QUANTFLOW,
        "backfill",
        symbol,
        "--kind",
        kind,
        "--from",
        str(first),
        "--to",
        str(last),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def _run(
    env: dict[str, str],
    first: int | str,
    last: int | str,
    symbol: str = "BTCUSDT",
    kind: str = "trade",
) -> tuple[int, str, str]:
    process = await _start(env, first, last, symbol, kind)
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def _stored_ids(
    database_url: str, query: str = "SELECT trade_id FROM trades ORDER BY trade_id"
) -> list[int]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(query)
    finally:
        await conn.close()
    return [row[0] for row in rows]


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


async def test_agg_trades_by_iso_times_fill_the_range_and_a_second_run_adds_nothing(
    database_url: str, nats_url: str, namespace: str, tmp_path: Path
) -> None:
    settings = service_settings(database_url, nats_url, namespace)
    start_ms, end_ms = 1617566600000, 1617566640000  # 2021-04-04T20:03:20Z … 20:04:00Z
    wanted = [a["a"] for a in AGGS if start_ms <= a["T"] <= end_ms]
    query = "SELECT agg_id FROM agg_trades ORDER BY agg_id"
    async with (
        FakeBinanceRest(agg_trades={"BTCUSDT": AGGS}) as rest,
        running(storage_service.run, settings, settings.storage_grpc_port),
    ):
        env = _env(settings, rest.url, tmp_path)
        times = ("2021-04-04T20:03:20Z", "2021-04-04T20:04:00")
        code, out, err = await _run(env, *times, kind="aggTrade")
        assert code == 0, err
        assert out.strip() == (
            f"BTCUSDT aggTrades {wanted[0]}-{wanted[-1]}: {len(wanted):,} fetched, all stored"
        )
        assert await _stored_ids(database_url, query) == wanted
        fetched = len(rest.served("aggTrades"))

        code, out, err = await _run(env, *times, kind="aggTrade")
        assert code == 0, err
        assert out.strip().endswith("all stored already, nothing to fetch")
        # Ids run by id as well, and a rerun asks REST only to turn times into ids.
        code, out, err = await _run(env, wanted[0], wanted[-1], kind="aggTrade")
        assert code == 0, err
        assert out.strip().endswith("all stored already, nothing to fetch")
    assert [r.params.get("fromId") for r in rest.served("aggTrades")[fetched:]] == [None, None]
    assert await _stored_ids(database_url, query) == wanted


async def test_klines_of_a_day_fill_it_and_a_second_run_adds_nothing(
    database_url: str, nats_url: str, namespace: str, tmp_path: Path
) -> None:
    settings = service_settings(database_url, nats_url, namespace)
    query = (
        "SELECT (extract(epoch FROM open_time) * 1000)::bigint FROM klines "
        "WHERE symbol = 'ETHUSDT' AND interval = '1m' ORDER BY open_time"
    )
    async with (
        FakeBinanceRest(klines={("ETHUSDT", "1m"): KLINES}) as rest,
        running(storage_service.run, settings, settings.storage_grpc_port),
    ):
        env = _env(settings, rest.url, tmp_path)
        code, out, err = await _run(env, "2022-08-14", "2022-08-14", "ETHUSDT", "kline_1m")
        assert code == 0, err
        assert out.strip() == (
            "ETHUSDT 1m klines 2022-08-14T00:00Z-2022-08-14T23:59Z: 1,440 fetched, all stored"
        )
        assert "1,440/1,440 (100%)" in err
        assert await _stored_ids(database_url, query) == [k[0] for k in KLINES]
        pages = len(rest.served("klines"))
        assert pages == 2

        code, out, err = await _run(
            env, "2022-08-14T10:00:00Z", "2022-08-14T12:00", "ETHUSDT", "kline_1m"
        )
        assert code == 0, err
        assert out.strip() == (
            "ETHUSDT 1m klines 2022-08-14T10:00Z-2022-08-14T12:00Z: "
            "all stored already, nothing to fetch"
        )
    assert len(rest.served("klines")) == pages
    assert await _stored_ids(database_url, query) == [k[0] for k in KLINES]


async def test_monthly_klines_fill_calendar_months_and_a_rerun_fetches_only_the_rest(
    database_url: str, nats_url: str, namespace: str, tmp_path: Path
) -> None:
    settings = service_settings(database_url, nats_url, namespace)
    months = monthly_klines(2021, 1, 36)  # 2021-01 … 2023-12
    query = (
        "SELECT (extract(epoch FROM open_time) * 1000)::bigint FROM klines "
        "WHERE symbol = 'ETHUSDT' AND interval = '1M' ORDER BY open_time"
    )
    async with (
        FakeBinanceRest(klines={("ETHUSDT", "1M"): months}) as rest,
        running(storage_service.run, settings, settings.storage_grpc_port),
    ):
        env = _env(settings, rest.url, tmp_path)
        code, out, err = await _run(env, "2022-01-01", "2022-12-31", "ETHUSDT", "kline_1M")
        assert code == 0, err
        assert out.strip() == (
            "ETHUSDT 1M klines 2022-01-01T00:00Z-2022-12-01T00:00Z: 12 fetched, all stored"
        )
        assert "12/12 (100%)" in err
        assert await _stored_ids(database_url, query) == [k[0] for k in months[12:24]]
        first_pages = len(rest.served("klines"))

        # From mid-November 2021 to March 2022: December is the first whole month, and the
        # only one missing.
        code, out, err = await _run(env, "2021-11-15", "2022-03-31", "ETHUSDT", "kline_1M")
        assert code == 0, err
        assert out.strip() == (
            "ETHUSDT 1M klines 2021-12-01T00:00Z-2022-03-01T00:00Z: 1 fetched, all stored"
        )
    assert [int(r.params["startTime"]) for r in rest.served("klines")[first_pages:]] == [
        months[11][0]
    ]
    assert await _stored_ids(database_url, query) == [k[0] for k in months[11:24]]


@pytest.mark.parametrize(
    ("kind", "first", "reason"),
    [
        ("kline_2m", "2022-08-14", "kline interval '2m' is not one of"),
        ("bookTicker", "2022-08-14", "trade, aggTrade or kline_<interval>"),
        ("kline_1m", "5", "ISO-8601"),
        ("aggTrade", "yesterday", "neither an id nor an ISO-8601"),
    ],
)
async def test_a_kind_or_bound_it_cannot_fetch_is_one_line_naming_why(
    database_url: str,
    nats_url: str,
    namespace: str,
    tmp_path: Path,
    kind: str,
    first: str,
    reason: str,
) -> None:
    settings = service_settings(database_url, nats_url, namespace)
    async with FakeBinanceRest() as rest:
        code, _out, err = await _run(
            _env(settings, rest.url, tmp_path), first, "2022-08-15", "ETHUSDT", kind
        )
    assert code == 1
    assert len(err.strip().splitlines()) == 1
    assert err.startswith("quantflow backfill: ") and reason in err
