"""``quantflow import`` into real PostgreSQL: every real kline file lands row for row, µs
and header variants land on the same rows, a second import adds nothing, a bad checksum or
a bad row is refused with the file named, and the CLI finds or starts its database."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

import asyncpg
import pytest
from pydantic import SecretStr

from services.cli.import_ import FileResult, ImportFailed, import_files, run_import
from services.common.settings import Settings
from services.ingest.vision_files import BadFile, Given
from services.storage.tables import datetime_to_ms
from tests.fakes.vision_archives import (
    AGG_TRADE_HEADER,
    KLINE_HEADER,
    REAL_KLINES,
    agg_trade_items,
    agg_trade_lines,
    kline_in_microseconds,
    read_lines,
    trade_items,
    trade_lines,
    write_checksum,
    write_csv,
    write_zip,
)

pytestmark = pytest.mark.integration

QUANTFLOW = str(Path(sys.executable).with_name("quantflow"))


async def _import(url: str, *files: Path) -> list[FileResult]:
    return await import_files(url, files, Given())


async def _klines(url: str, venue: str, symbol: str, interval: str) -> list[list[object]]:
    """Stored klines as the CSV's first 11 columns (times in ms, numbers as stored)."""
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT open_time, open, high, low, close, volume, close_time, quote_volume, "
            "trades, taker_buy_volume, taker_buy_quote_volume FROM klines "
            "WHERE venue = $1 AND symbol = $2 AND interval = $3 ORDER BY open_time",
            venue,
            symbol,
            interval,
        )
    finally:
        await conn.close()
    return [
        [datetime_to_ms(r[0]), *r[1:6], datetime_to_ms(r[6]), r[7], r[8], r[9], r[10]] for r in rows
    ]


def _expected(lines: Sequence[str]) -> list[list[object]]:
    """What the file's rows must be stored as: exact decimals, integer times and counts."""
    expected = []
    for line in lines:
        f = line.split(",")
        expected.append(
            [int(f[0]), *map(Decimal, f[1:6]), int(f[6]), Decimal(f[7]), int(f[8]),
             Decimal(f[9]), Decimal(f[10])]
        )  # fmt: skip
    return expected


async def test_every_real_kline_file_is_stored_row_for_row(database_url: str) -> None:
    files = [path for path, *_ in REAL_KLINES]
    results = await _import(database_url, *files)
    for result, (path, venue, symbol, interval, rows) in zip(results, REAL_KLINES, strict=True):
        assert result.path == path
        assert (result.contents.venue, result.contents.symbol) == (venue, symbol)
        assert result.contents.interval == interval
        assert result.rows == rows
    # The spot ETHUSDT day comes as the zip and as its extracted CSV: the second adds nothing.
    assert [r.new for r in results] == [1440, 0, 24, 1440, 1440, 8640]
    for path, venue, symbol, interval, rows in REAL_KLINES:
        stored = await _klines(database_url, venue, symbol, interval)
        expected = _expected(read_lines(path))
        if interval == "1m" and venue == "binance_usdm":  # two days of the same series
            day = expected[0][0]
            stored = [row for row in stored if day <= row[0] < day + 86_400_000]  # type: ignore[operator]
        assert stored == expected, path.name
        assert len(stored) == rows


async def test_importing_again_adds_nothing_and_says_so(database_url: str) -> None:
    zip_path = REAL_KLINES[0][0]
    (first,) = await _import(database_url, zip_path)
    (again,) = await _import(database_url, zip_path)
    assert (first.new, first.already) == (1440, 0)
    assert (again.new, again.already) == (0, 1440)
    assert "0 new, 1,440 already stored" in again.line()
    conn = await asyncpg.connect(database_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM klines") == 1440
    finally:
        await conn.close()


async def test_microsecond_file_imports_to_the_same_rows_as_milliseconds(
    database_url: str, tmp_path: Path
) -> None:
    lines = read_lines(REAL_KLINES[0][0])
    in_us = write_zip(
        tmp_path / "ETHUSDT-1m-2022-08-14.zip", [kline_in_microseconds(line) for line in lines]
    )
    (result,) = await _import(database_url, in_us)
    assert (result.contents.venue, result.new) == ("binance", 1440)
    assert await _klines(database_url, "binance", "ETHUSDT", "1m") == _expected(lines)
    (original,) = await _import(database_url, REAL_KLINES[0][0])
    assert original.new == 0  # the ms file holds exactly the rows the µs file gave


async def test_futures_file_with_a_header_row_imports_to_the_same_rows(
    database_url: str, tmp_path: Path
) -> None:
    path, venue, symbol, interval, _ = REAL_KLINES[4]
    lines = read_lines(path)
    with_header = write_csv(tmp_path / path.with_suffix(".csv").name, lines, KLINE_HEADER)
    (result,) = await _import(database_url, with_header)
    assert result.contents.venue == venue == "binance_usdm"
    assert await _klines(database_url, venue, symbol, interval) == _expected(lines)


async def test_agg_trades_and_trades_files_of_both_venues_are_stored(
    database_url: str, tmp_path: Path
) -> None:
    aggs, trades = agg_trade_items(), trade_items()
    files = [
        write_zip(tmp_path / "BTCUSDT-aggTrades-2021-04-04.zip", agg_trade_lines(aggs, "binance")),
        write_csv(tmp_path / "BTCUSDT-trades-2024-08-08.csv", trade_lines(trades, "binance")),
    ]
    futures = tmp_path / "futures"
    futures.mkdir()
    files += [
        write_csv(
            futures / "BTCUSDT-aggTrades-2021-04-04.csv",
            agg_trade_lines(aggs, "binance_usdm"),
            AGG_TRADE_HEADER,
        ),
        write_zip(futures / "BTCUSDT-trades-2024-08-08.zip", trade_lines(trades, "binance_usdm")),
    ]
    results = await _import(database_url, *files)
    assert [(r.contents.kind, r.contents.venue, r.new) for r in results] == [
        ("aggTrades", "binance", 1227),
        ("trades", "binance", 9757),
        ("aggTrades", "binance_usdm", 1227),
        ("trades", "binance_usdm", 9757),
    ]
    conn = await asyncpg.connect(database_url)
    try:
        agg = await conn.fetchrow(
            "SELECT price::text, quantity::text, first_trade_id, last_trade_id, trade_time, "
            "buyer_is_maker FROM agg_trades WHERE venue = 'binance' AND agg_id = $1",
            aggs[0]["a"],
        )
        assert agg is not None
        assert (agg[0], agg[1], agg[2], agg[3]) == (
            aggs[0]["p"],
            aggs[0]["q"],
            aggs[0]["f"],
            aggs[0]["l"],
        )
        assert (datetime_to_ms(agg[4]), agg[5]) == (aggs[0]["T"], aggs[0]["m"])
        last = trades[-1]
        latest = await conn.fetchrow(
            "SELECT trade_id, price::text FROM latest_prices WHERE venue = 'binance_usdm'"
        )
        assert latest is not None and tuple(latest) == (last["id"], last["price"])
        counts = await conn.fetch(
            "SELECT venue, count(*) FROM trades GROUP BY venue ORDER BY venue"
        )
        assert [tuple(r) for r in counts] == [("binance", 9757), ("binance_usdm", 9757)]
    finally:
        await conn.close()


def _settings(database_url: str, data_dir: Path) -> Settings:
    return Settings(database_url=SecretStr(database_url), data_dir=data_dir)


async def test_a_checksum_mismatch_is_refused_before_anything_is_written(
    database_url: str, tmp_path: Path
) -> None:
    good = shutil.copy(REAL_KLINES[3][0], tmp_path)
    write_checksum(Path(good))
    bad = Path(shutil.copy(REAL_KLINES[0][0], tmp_path))
    write_checksum(bad, "0" * 64)
    with pytest.raises(
        ImportFailed, match=r"ETHUSDT-1m-2022-08-14\.zip: SHA-256 [0-9a-f]{64} does not match 0{64}"
    ):
        await run_import(_settings(database_url, tmp_path), [tmp_path], Given())
    conn = await asyncpg.connect(database_url)
    try:
        tables = await conn.fetchval("SELECT to_regclass('klines')")
        assert tables is None or await conn.fetchval("SELECT count(*) FROM klines") == 0
    finally:
        await conn.close()
    write_checksum(bad)
    lines = await run_import(_settings(database_url, tmp_path), [tmp_path], Given())
    assert (
        lines[-1]
        == "2 files (2 with a matching .CHECKSUM): 2,880 rows, 2,880 new, 0 already stored"
    )


async def test_a_bad_row_stops_the_import_naming_file_and_line(
    database_url: str, tmp_path: Path
) -> None:
    lines = read_lines(REAL_KLINES[0][0])
    lines[700] = lines[700].replace(",", ";", 1)
    broken = write_csv(tmp_path / "ETHUSDT-1m-2022-08-14.csv", lines)
    with pytest.raises(
        BadFile, match=r"ETHUSDT-1m-2022-08-14\.csv line 701: 11 columns, expected 12"
    ):
        await import_files(database_url, [broken], Given(), chunk_rows=500)
    conn = await asyncpg.connect(database_url)
    try:  # the chunk holding line 701 and those after it were not written
        assert await conn.fetchval("SELECT count(*) FROM klines") == 500
    finally:
        await conn.close()


def _env(**variables: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUANTFLOW_")}
    env.update(variables)
    return env


async def _cli(env: dict[str, str], *arguments: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        QUANTFLOW, "import", *arguments, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_cli_imports_with_flags_and_shows_progress(database_url: str, tmp_path: Path) -> None:
    renamed = Path(shutil.copy(REAL_KLINES[2][0], tmp_path / "hours.csv"))
    env = _env(QUANTFLOW_DATABASE_URL=database_url)
    code, out, err = await _cli(
        env, str(renamed), "--symbol", "BTCUSDT", "--kind", "klines", "--interval", "1h"
    )
    assert code == 0, err
    assert (
        out.splitlines()[0]
        == "hours.csv: binance BTCUSDT 1h klines, 24 rows: 24 new, 0 already stored"
    )
    assert "importing 1 file 24/24 (100%)" in err
    code, out, err = await _cli(env, str(renamed))
    assert code == 1 and out == ""
    assert err.strip() == (
        "quantflow import: hours.csv: not a standard data.binance.vision name "
        "(e.g. BTCUSDT-1m-2022-05-05.zip); give --symbol and --kind (klines: also --interval)"
    )


async def test_cli_without_a_database_url_starts_the_embedded_one_of_the_data_dir(
    tmp_path: Path,
) -> None:
    env = _env(QUANTFLOW_DATA_DIR=str(tmp_path / "data"))
    code, out, err = await _cli(env, str(REAL_KLINES[2][0]))
    assert code == 0, err
    assert (
        out.splitlines()[-1]
        == "1 file (0 with a matching .CHECKSUM): 24 rows, 24 new, 0 already stored"
    )
    code, out, err = await _cli(env, str(REAL_KLINES[2][0]))  # the same data directory
    assert code == 0, err
    assert out.splitlines()[-1].endswith("24 rows, 0 new, 24 already stored")
    assert (tmp_path / "data" / "postgres" / "PG_VERSION").exists()


async def test_cli_uses_the_database_of_a_running_up_from_its_run_file(
    database_url: str, tmp_path: Path
) -> None:
    run_file = tmp_path / "run.json"
    run_file.write_text(json.dumps({"postgres": {"url": database_url, "embedded": True}}))
    env = _env(QUANTFLOW_DATA_DIR=str(tmp_path))
    code, out, err = await _cli(env, str(REAL_KLINES[2][0]))
    assert code == 0, err
    assert out.splitlines()[0].endswith("24 rows: 24 new, 0 already stored")
    assert await _klines(database_url, "binance", "BTCUSDT", "1h") != []
    run_file.write_text(
        json.dumps({"postgres": {"url": "postgresql://u:***@db/x", "embedded": False}})
    )
    code, out, err = await _cli(env, str(REAL_KLINES[2][0]))
    assert code == 1
    assert "uses PostgreSQL at postgresql://u:***@db/x; set QUANTFLOW_DATABASE_URL to it" in err
