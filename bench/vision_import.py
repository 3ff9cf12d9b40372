"""``quantflow import`` of a month of 1m klines beside a plain asyncpg COPY of the same rows.

No real monthly 1m archive is in the repository, so one is built from the real spot day
(``tests/fixtures/binance/ETHUSDT-1m-2022-08-14.csv``): the day's 1,440 rows repeated for
every day of August 2022, times shifted by whole days (31 × 1,440 = 44,640 rows), zipped
with its ``.CHECKSUM`` like a data.binance.vision monthly file. The prices repeat; the
work per row is the real one.
"""

from __future__ import annotations

import csv
import hashlib
import zipfile
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import asyncpg

from bench.infra import fresh_database
from bench.report import Result, timed_async
from services.cli.import_ import import_files, open_text, verify_checksum
from services.ingest.vision_files import Given
from services.storage.migrations import migrate
from services.storage.tables import KLINES

DAY_FILE = (
    Path(__file__).resolve().parent.parent
    / "tests"
    / "fixtures"
    / "binance"
    / "ETHUSDT-1m-2022-08-14.csv"
)
DAY_MS = 86_400_000
FIRST_DAY = 1_659_312_000_000  # 2022-08-01T00:00Z
# Rows per COPY of the plain writer: the same chunk size the import uses.
COPY_ROWS = 20_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def write_month(folder: Path, days: int) -> Path:
    """``ETHUSDT-1m-2022-08.zip`` (and its ``.CHECKSUM``) of ``days`` shifted copies."""
    day = DAY_FILE.read_text().splitlines()
    shift = FIRST_DAY - int(day[0].split(",", 1)[0])
    lines = []
    for number in range(days):
        offset = shift + number * DAY_MS
        for line in day:
            fields = line.split(",")
            fields[0] = str(int(fields[0]) + offset)
            fields[6] = str(int(fields[6]) + offset)
            lines.append(",".join(fields))
    path = folder / "ETHUSDT-1m-2022-08.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("ETHUSDT-1m-2022-08.csv", "".join(f"{line}\n" for line in lines))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    path.with_name(path.name + ".CHECKSUM").write_text(f"{digest}  {path.name}\n")
    return path


def _time(ms: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=ms)


async def _plain_copy(url: str, path: Path) -> int:
    """What a user would write: ``csv.reader`` over the zip, ``Decimal``/``datetime``
    records, ``copy_records_to_table`` straight into ``klines``: no checks, no staging, no
    conflict handling (a second run fails on the primary key)."""
    conn = await asyncpg.connect(url)
    rows = 0
    try:
        with open_text(path) as text:
            batch: list[tuple[object, ...]] = []
            for f in csv.reader(text):
                batch.append(
                    ("binance", "ETHUSDT", "1m", _time(int(f[0])), _time(int(f[6])),
                     Decimal(f[1]), Decimal(f[2]), Decimal(f[3]), Decimal(f[4]), Decimal(f[5]),
                     Decimal(f[7]), int(f[8]), -1, -1, Decimal(f[9]), Decimal(f[10]), None)
                )  # fmt: skip
                if len(batch) == COPY_ROWS:
                    rows += await _copy(conn, batch)
                    batch = []
            rows += await _copy(conn, batch)
    finally:
        await conn.close()
    return rows


async def _copy(conn: asyncpg.Connection, batch: list[tuple[object, ...]]) -> int:
    if batch:
        async with conn.transaction():
            await conn.copy_records_to_table("klines", records=batch, columns=KLINES.columns)
    return len(batch)


async def _import(url: str, path: Path) -> int:
    """What ``quantflow import`` does but the progress line: checksum, parse, COPY + insert."""
    verify_checksum(path)
    (result,) = await import_files(url, [path], Given())
    return result.new


async def _migrate(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await migrate(conn)
    finally:
        await conn.close()


async def _count(url: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        count: int = await conn.fetchval("SELECT count(*) FROM klines")
        return count
    finally:
        await conn.close()


async def run(admin_url: str, scratch: Path, days: int) -> list[Result]:
    path = write_month(scratch, days)
    rows = days * 1440
    results = []
    async with fresh_database(admin_url) as url:
        await _migrate(url)
        results.append(
            await timed_async(
                "import",
                "asyncpg copy_records_to_table, csv.reader rows",
                rows,
                _plain_copy(url, path),
                "no checks, not idempotent",
            )
        )
        if await _count(url) != rows:
            raise RuntimeError("plain COPY: wrong number of klines stored")
    async with fresh_database(admin_url) as url:
        await _migrate(url)  # as for the plain COPY: the schema is not part of the figure
        results.append(
            await timed_async(
                "import",
                f"quantflow import ({days} days of 1m klines, zip)",
                rows,
                _import(url, path),
                "checksum, validated, COPY + ON CONFLICT",
            )
        )
        results.append(
            await timed_async(
                "import",
                "quantflow import, same file again",
                rows,
                _import(url, path),
                "all already stored",
            )
        )
        if await _count(url) != rows:
            raise RuntimeError("quantflow import: wrong number of klines stored")
    return results
