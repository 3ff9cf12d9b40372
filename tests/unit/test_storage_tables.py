"""Unit tests for services/storage/tables.py: the write path's conflict keys per mode."""

from __future__ import annotations

import pytest

from services.storage import tables
from services.storage.storage_mode import StorageMode


def test_plain_postgresql_conflicts_on_the_exchange_identity() -> None:
    [insert, latest] = tables.TRADES.statements(StorageMode.POSTGRESQL)
    assert "ON CONFLICT (venue, symbol, trade_id) DO NOTHING" in insert
    assert latest.startswith("INSERT INTO latest_prices")


def test_timescaledb_conflicts_on_the_identity_and_its_time() -> None:
    [insert, _] = tables.TRADES.statements(StorageMode.TIMESCALEDB)
    assert "ON CONFLICT (venue, symbol, trade_id, trade_time) DO NOTHING" in insert
    [agg] = tables.AGG_TRADES.statements(StorageMode.TIMESCALEDB)
    assert "ON CONFLICT (venue, symbol, agg_id, trade_time) DO NOTHING" in agg


def test_tables_that_are_no_hypertables_keep_their_key_in_every_mode() -> None:
    for mode in StorageMode:
        assert tables.TICKERS.conflict_key(mode) == ("venue", "symbol", "event_time")
        assert tables.KLINES.conflict_key(mode) == ("venue", "symbol", "interval", "open_time")
    [upsert] = tables.BOOK_TICKERS.statements(StorageMode.TIMESCALEDB)
    assert "ON CONFLICT (venue, symbol) DO UPDATE" in upsert
    with pytest.raises(ValueError, match="book_tickers keeps latest rows only"):
        tables.BOOK_TICKERS.conflict_key(StorageMode.POSTGRESQL)
