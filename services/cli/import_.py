"""``quantflow import PATH…``: data.binance.vision files straight into the tables.

Each file is checked against the ``.CHECKSUM`` beside it (when there is one) before anything
is written, read as a stream (a ``.zip`` is never extracted to disk), parsed by
:mod:`services.ingest.vision_files` into the same events live data becomes, and written in
chunks through :meth:`services.storage.repository.TradeRepository.write`: COPY into a
staging table, then ``INSERT … ON CONFLICT DO NOTHING``. Importing a file twice adds
nothing, and the summary says how many rows were new and how many were there already.

The database: ``QUANTFLOW_DATABASE_URL``; else the embedded PostgreSQL of a running
``quantflow up`` (its run file in the data directory); else the embedded PostgreSQL of the
data directory, started for the import and stopped after it (what ``up`` later serves).
Migrations are applied first, so a fresh data directory works.

A bad row stops the import with the file, line and column: the chunks before it are stored
(a rerun after fixing the file adds only the rest), nothing after it is.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import subprocess
import zipfile
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import asyncpg

from services.cli.progress import Progress
from services.cli.up import ensure_database, read_run_file
from services.common.embedded import start_postgres
from services.common.settings import Settings, mask_password
from services.ingest.vision_files import BadFile, Contents, FileReader, Given, identify
from services.storage import tables
from services.storage.migrations import prepare_schema
from services.storage.repository import TradeRepository, prepare_connection

# Rows per COPY and transaction: large enough that a commit costs little per row, small
# enough that the progress line moves and a chunk's records stay a few MB.
CHUNK_ROWS = 20_000
CHECKSUM_SUFFIX = ".CHECKSUM"
_SUFFIXES = (".zip", ".csv")


class ImportFailed(Exception):
    """An expected failure: one line for the user."""


@dataclass(frozen=True, slots=True)
class FileResult:
    path: Path
    contents: Contents
    rows: int
    new: int

    @property
    def already(self) -> int:
        """Rows stored before (or repeated within the file)."""
        return self.rows - self.new

    def line(self) -> str:
        return (
            f"{self.path.name}: {self.contents.describe()}, {self.rows:,} rows: "
            f"{self.new:,} new, {self.already:,} already stored"
        )


def find_files(paths: Sequence[Path]) -> list[Path]:
    """The ``.zip`` and ``.csv`` files named, directories searched recursively (a ``.csv``
    beside a ``.zip`` of the same name is its extracted copy and is left out)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            inside = sorted(p for p in path.rglob("*") if p.suffix in _SUFFIXES and p.is_file())
            found += [
                p for p in inside if not (p.suffix == ".csv" and p.with_suffix(".zip") in inside)
            ]
            if not inside:
                raise ImportFailed(f"{path}: no .zip or .csv files in it")
        elif path.is_file():
            if path.suffix not in _SUFFIXES:
                raise ImportFailed(f"{path}: not a .zip or .csv file")
            found.append(path)
        else:
            raise ImportFailed(f"{path}: no such file or directory")
    return found


def verify_checksum(path: Path) -> bool:
    """True if a ``<file>.CHECKSUM`` (``sha256sum`` output) lies beside ``path`` and
    matches; False if there is none; :class:`ImportFailed` naming the file on a mismatch."""
    checksum_file = path.with_name(path.name + CHECKSUM_SUFFIX)
    if not checksum_file.exists():
        return False
    words = checksum_file.read_text().split()
    if not words:
        raise ImportFailed(f"{checksum_file}: empty, expected a SHA-256 digest")
    expected = words[0].lower()
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while block := stream.read(1 << 20):
            digest.update(block)
    if digest.hexdigest() != expected:
        raise ImportFailed(
            f"{path}: SHA-256 {digest.hexdigest()} does not match {expected} in "
            f"{checksum_file.name}; the file is damaged or replaced, download it again"
        )
    return True


@contextlib.contextmanager
def open_text(path: Path) -> Iterator[IO[str]]:
    """The CSV text of ``path``: the file itself, or the one ``.csv`` inside a ``.zip``,
    decompressed as it is read."""
    if path.suffix != ".zip":
        with path.open(encoding="ascii", newline="") as text:
            yield text
        return
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as error:
        raise ImportFailed(f"{path}: not a readable zip ({error})") from None
    with archive:
        members = [m for m in archive.namelist() if m.endswith(".csv")]
        if len(members) != 1:
            raise ImportFailed(f"{path}: holds {len(members)} .csv files, expected one")
        with archive.open(members[0]) as raw:
            yield io.TextIOWrapper(raw, encoding="ascii", newline="")


def count_rows(path: Path) -> int:
    """Data rows of ``path`` (lines, less a header), for the progress line."""
    lines, first, last = 0, "", "\n"
    try:
        with open_text(path) as text:
            while block := text.read(1 << 20):
                first = first or block[:1]
                lines += block.count("\n")
                last = block[-1]
    except UnicodeDecodeError as error:
        raise ImportFailed(f"{path}: not a CSV of plain text ({error})") from None
    if last != "\n":
        lines += 1  # a last line without its newline
    return lines - (1 if first and not first.isdigit() else 0)


async def import_files(
    database_url: str,
    files: Sequence[Path],
    given: Given,
    progress: Progress | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> list[FileResult]:
    """Import ``files`` in order into the database at ``database_url`` (migrated first)."""
    named = [(path, identify(path.name, given)) for path in files]
    conn = await asyncpg.connect(database_url)
    try:
        # The same schema and mode as the storage service (TimescaleDB keys included).
        mode, _ = await prepare_schema(conn)
    finally:
        await conn.close()
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=1, init=prepare_connection)
    try:
        repository = TradeRepository(pool, mode)
        return [
            await _import_file(repository, path, contents, progress, chunk_rows)
            for path, contents in named
        ]
    finally:
        await pool.close()


async def _import_file(
    repository: TradeRepository,
    path: Path,
    contents: Contents,
    progress: Progress | None,
    chunk_rows: int,
) -> FileResult:
    # One chunk at a time: parsing the next chunk in a thread while this one is written
    # measured no faster on two busy cores (both are Python work under one GIL).
    reader = FileReader(str(path), contents)
    new = 0
    with open_text(path) as text:
        for chunk in reader.chunks(text, chunk_rows):
            table = tables.table_for(chunk[0])
            assert table is not None
            new += await repository.write(table, chunk)
            if progress is not None:
                progress.advance(len(chunk))
    return FileResult(path, reader.contents, reader.rows, new)


@contextlib.asynccontextmanager
async def database(settings: Settings) -> AsyncIterator[str]:
    """The DSN to import into (see the module docstring for which)."""
    dsn = settings.database_dsn()
    if dsn:
        yield dsn
        return
    state = read_run_file(settings.data_dir)
    if state is not None:
        postgres = state["postgres"]
        assert isinstance(postgres, dict)
        if not postgres.get("embedded"):
            raise ImportFailed(
                f"the running `quantflow up` uses PostgreSQL at {postgres['url']}; "
                "set QUANTFLOW_DATABASE_URL to it"
            )
        yield str(postgres["url"])
        return
    pgdata = settings.data_dir / "postgres"
    try:
        server = await asyncio.to_thread(start_postgres, pgdata)
    except (OSError, RuntimeError, subprocess.SubprocessError) as error:
        raise ImportFailed(
            f"cannot start the embedded PostgreSQL in {pgdata} ({error}); see "
            f"{pgdata / 'server.log'}, or set QUANTFLOW_DATABASE_URL"
        ) from None
    try:
        yield await ensure_database(server)
    finally:
        await asyncio.to_thread(server.stop)


async def run_import(settings: Settings, paths: Sequence[Path], given: Given) -> list[str]:
    """Check, then import ``paths``; one summary line per file and a total."""
    files = find_files(paths)
    try:
        for path in files:
            identify(path.name, given)
    except BadFile as error:
        raise ImportFailed(str(error)) from None
    checked = [path for path in files if verify_checksum(path)]
    total = sum(count_rows(path) for path in files)
    progress = Progress(f"importing {_files(len(files))}", total)
    async with database(settings) as url:
        try:
            results = await import_files(url, files, given, progress)
        except BadFile as error:
            raise ImportFailed(str(error)) from None
        except (OSError, asyncpg.PostgresError) as error:
            raise ImportFailed(f"PostgreSQL at {mask_password(url)}: {error}") from None
        finally:
            progress.finish()
    rows = sum(r.rows for r in results)
    new = sum(r.new for r in results)
    return [
        *(r.line() for r in results),
        f"{_files(len(results))} ({len(checked)} with a matching {CHECKSUM_SUFFIX}): "
        f"{rows:,} rows, {new:,} new, {rows - new:,} already stored",
    ]


def _files(count: int) -> str:
    return f"{count} file{'s' * (count != 1)}"
