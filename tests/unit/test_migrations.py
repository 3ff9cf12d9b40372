"""Unit tests for services/storage/migrations.py: the migration files as packaged."""

from __future__ import annotations

import itertools
import re
from importlib import resources
from pathlib import Path

from services.storage import tables
from services.storage.migrations import load_migrations
from services.storage.storage_mode import StorageMode


def _migration_files() -> dict[str, str]:
    folder = Path(str(resources.files("services.storage") / "migrations"))
    return {p.name: p.read_text() for p in folder.glob("*.sql")}


def _normalise(sql: str) -> str:
    return re.sub(r"\s+", " ", sql).strip()


def test_load_migrations_finds_at_least_the_first_migration() -> None:
    migrations = load_migrations()
    assert migrations
    assert migrations[0].version == 1
    assert migrations[0].name == "trades"


def test_load_migrations_versions_strictly_increase_from_one() -> None:
    versions = [m.version for m in load_migrations()]
    assert versions[0] == 1
    assert all(later > earlier for earlier, later in itertools.pairwise(versions))


def test_load_migrations_names_and_sql_match_the_files() -> None:
    files = _migration_files()
    migrations = load_migrations()
    assert {f"{m.version:04d}_{m.name}.sql" for m in migrations} == set(files)
    for migration in migrations:
        assert migration.sql == files[f"{migration.version:04d}_{migration.name}.sql"]


def test_first_migration_creates_trades_keyed_by_symbol_and_trade_id() -> None:
    sql = _normalise(load_migrations()[0].sql)
    match = re.search(r"CREATE TABLE trades \((.*?)\);", sql, re.IGNORECASE)
    assert match, "0001 must create the trades table"
    body = match.group(1)
    assert re.search(r"PRIMARY KEY \(symbol, trade_id\)", body, re.IGNORECASE)
    assert re.search(r"\btrade_id bigint NOT NULL", body, re.IGNORECASE)
    assert re.search(r"\bprice numeric NOT NULL", body, re.IGNORECASE)


def test_first_migration_creates_latest_prices_keyed_by_symbol() -> None:
    sql = _normalise(load_migrations()[0].sql)
    match = re.search(r"CREATE TABLE latest_prices \((.*?)\);", sql, re.IGNORECASE)
    assert match
    assert re.search(r"\bsymbol text PRIMARY KEY", match.group(1), re.IGNORECASE)


def test_second_migration_makes_the_venue_part_of_both_keys() -> None:
    second = load_migrations()[1]
    assert (second.version, second.name) == (2, "venue_identity")
    sql = _normalise(second.sql)
    assert re.search(
        r"ALTER TABLE trades ADD PRIMARY KEY \(venue, symbol, trade_id\)", sql, re.IGNORECASE
    )
    assert re.search(
        r"ALTER TABLE latest_prices ADD COLUMN venue text NOT NULL DEFAULT 'binance'",
        sql,
        re.IGNORECASE,
    )
    assert re.search(
        r"ALTER TABLE latest_prices ADD PRIMARY KEY \(venue, symbol\)", sql, re.IGNORECASE
    )


def test_timescale_migrations_join_the_plain_ones_in_timescaledb_mode_only() -> None:
    plain = load_migrations()
    timescale = load_migrations(StorageMode.TIMESCALEDB)
    extra = [m for m in timescale if m not in plain]
    assert [(m.version, m.name) for m in extra] == [(7, "hypertables")]
    versions = [m.version for m in timescale]
    assert versions == sorted(set(versions))


def test_timescale_keys_include_the_time_column_where_the_table_is_a_hypertable() -> None:
    timescale = load_migrations(StorageMode.TIMESCALEDB)
    sql = _normalise(next(m.sql for m in timescale if m.name == "hypertables"))
    for table in (tables.TRADES, tables.AGG_TRADES):
        key = ", ".join(table.conflict_key(StorageMode.TIMESCALEDB))
        assert f"ALTER TABLE {table.like} ADD PRIMARY KEY ({key});" in sql
        assert f"create_hypertable('{table.like}', by_range('{table.time_column}'" in sql
    assert tables.TRADES.conflict_key(StorageMode.POSTGRESQL) == ("venue", "symbol", "trade_id")
    assert tables.KLINES.conflict_key(StorageMode.TIMESCALEDB) == tables.KLINES.key
