"""Embedded servers: a server a killed `quantflow up` left running is replaced, data kept."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import nats
import pytest

from services.common.embedded import start_nats, start_postgres


async def test_start_nats_stops_a_server_left_running_in_the_same_store(tmp_path: Path) -> None:
    abandoned = start_nats(tmp_path / "nats")
    try:
        nc = await nats.connect(abandoned.url)
        await nc.jetstream().add_stream(name="KEPT", subjects=["kept.>"])
        await nc.jetstream().publish("kept.one", b"1")
        await nc.close()

        replacement = start_nats(tmp_path / "nats")  # as if the owner had been SIGKILLed
        try:
            assert abandoned.process.wait(timeout=10) is not None
            nc = await nats.connect(replacement.url)
            info = await nc.jetstream().stream_info("KEPT")
            await nc.close()
            assert info.state.messages == 1
        finally:
            replacement.delete()
    finally:
        abandoned.stop()


async def test_start_postgres_stops_a_server_left_running_in_the_same_cluster(
    tmp_path: Path,
) -> None:
    abandoned = start_postgres(tmp_path / "pg")
    conn = await asyncpg.connect(abandoned.dsn())
    await conn.execute("CREATE TABLE kept (n int); INSERT INTO kept VALUES (7)")
    await conn.close()

    replacement = start_postgres(tmp_path / "pg")
    try:
        if replacement.port != abandoned.port:  # a free port may come round again
            with pytest.raises(OSError):
                await asyncpg.connect(abandoned.dsn(), timeout=5)
        conn = await asyncpg.connect(replacement.dsn())
        assert await conn.fetchval("SELECT n FROM kept") == 7
        await conn.close()
    finally:
        replacement.delete()
