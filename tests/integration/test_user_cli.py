"""`quantflow user add` against a real database: the user can then log in; mistakes are one
line each."""

from __future__ import annotations

import asyncio
import io

import asyncpg
import pytest

from services.cli.main import main
from services.common.auth.store import AuthStore

pytestmark = pytest.mark.integration


async def _add(monkeypatch: pytest.MonkeyPatch, password: str, *args: str) -> int:
    """The command as typed, in a thread: it runs its own event loop."""
    monkeypatch.setattr("sys.stdin", io.StringIO(password + "\n"))
    return await asyncio.to_thread(main, ["user", "add", *args, "--password-stdin"])


async def test_user_add_stores_a_user_who_can_log_in(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("QUANTFLOW_DATABASE_URL", database_url)
    monkeypatch.delenv("QUANTFLOW_NATS_URL", raising=False)
    assert await _add(monkeypatch, "s3cret-pass", "dave", "--admin") == 0
    assert "added 'dave' (an admin)" in capsys.readouterr().out

    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=1)
    try:
        store = AuthStore(pool)
        user = await store.check_password("dave", "s3cret-pass")
        assert user is not None and user.admin
        assert await store.check_password("dave", "s3cret-pasS") is None
        stored = await pool.fetchval("SELECT password_hash FROM users WHERE name = 'dave'")
        assert stored.startswith("$argon2id$") and "s3cret-pass" not in stored
    finally:
        await pool.close()

    with pytest.raises(SystemExit, match="user 'dave' exists already"):
        await _add(monkeypatch, "another-pass", "dave")
    with pytest.raises(SystemExit, match="at least 8 characters"):
        await _add(monkeypatch, "short", "erin")
    with pytest.raises(SystemExit, match="lower-case letters"):
        await _add(monkeypatch, "long-enough", "Not A Name")
    with pytest.raises(SystemExit, match="is the local admin"):
        await _add(monkeypatch, "long-enough", "local")
