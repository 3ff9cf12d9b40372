"""Settings a deployment uses: values from Secret files (QUANTFLOW_SECRETS_DIR) and the
ingest shards (QUANTFLOW_SHARD_INDEX / QUANTFLOW_SHARD_COUNT)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from services.cli.main import main
from services.common.settings import Settings

DB_URL = "postgresql://quant:from-a-file@db.internal:5432/quantflow"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.upper().startswith("QUANTFLOW_"):
            monkeypatch.delenv(key)


# --- secrets mounted as files ----------------------------------------------------------


def test_values_come_from_files_named_like_the_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What a Kubernetes Secret volume holds: one file a key, often with a final newline.
    (tmp_path / "QUANTFLOW_DATABASE_URL").write_text(DB_URL + "\n")
    (tmp_path / "QUANTFLOW_SMTP_PASSWORD").write_text("mail-pass")
    monkeypatch.setenv("QUANTFLOW_SECRETS_DIR", str(tmp_path))
    settings = Settings()
    assert settings.database_dsn() == DB_URL
    assert settings.smtp_password is not None
    assert settings.smtp_password.get_secret_value() == "mail-pass"
    assert "from-a-file" not in repr(settings)


def test_the_environment_wins_over_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "QUANTFLOW_DATABASE_URL").write_text(DB_URL)
    monkeypatch.setenv("QUANTFLOW_SECRETS_DIR", str(tmp_path))
    monkeypatch.setenv("QUANTFLOW_DATABASE_URL", "postgresql://env@127.0.0.1/db")
    assert Settings().database_dsn() == "postgresql://env@127.0.0.1/db"


def test_files_are_not_read_without_the_variable(tmp_path: Path) -> None:
    (tmp_path / "QUANTFLOW_DATABASE_URL").write_text(DB_URL)
    assert Settings().database_dsn() is None


def test_a_missing_secrets_dir_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUANTFLOW_SECRETS_DIR", str(tmp_path / "absent"))
    with pytest.raises(ValueError, match=r"QUANTFLOW_SECRETS_DIR: .*absent is not a directory"):
        Settings()
    # What `quantflow serve` prints: one line, no traceback.
    with pytest.raises(SystemExit, match=r"^quantflow: QUANTFLOW_SECRETS_DIR: .*absent"):
        main(["serve", "storage"])


def test_a_file_value_is_validated_like_a_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "QUANTFLOW_SMTP_PORT").write_text("not-a-port")
    monkeypatch.setenv("QUANTFLOW_SECRETS_DIR", str(tmp_path))
    with pytest.raises(ValidationError, match="smtp_port"):
        Settings()


# --- ingest shards ---------------------------------------------------------------------

SYMBOLS = ("SOLUSDT", "BTCUSDT", "ETHUSDT", "BNBUSDT", "XRPUSDT")


@pytest.mark.parametrize("count", [1, 2, 3, 5])
def test_shards_cover_every_symbol_exactly_once(count: int) -> None:
    shares = [
        Settings(symbols=SYMBOLS, shard_index=index, shard_count=count).shard_symbols()
        for index in range(count)
    ]
    taken = [symbol for share in shares for symbol in share]
    assert sorted(taken) == sorted(SYMBOLS)  # none twice, none left out
    assert all(share for share in shares)
    assert max(map(len, shares)) - min(map(len, shares)) <= 1


def test_a_shard_does_not_depend_on_the_order_symbols_are_listed() -> None:
    one = Settings(symbols=SYMBOLS, shard_index=1, shard_count=2).shard_symbols()
    other = Settings(symbols=SYMBOLS[::-1], shard_index=1, shard_count=2)
    assert one == other.shard_symbols() == ("BTCUSDT", "SOLUSDT")


def test_a_symbol_listed_twice_goes_to_one_shard() -> None:
    shares = [
        Settings(
            symbols=("BTCUSDT", "ETHUSDT", "BTCUSDT"), shard_index=i, shard_count=2
        ).shard_symbols()
        for i in range(2)
    ]
    assert shares == [("BTCUSDT",), ("ETHUSDT",)]


def test_shards_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUANTFLOW_SYMBOLS", ",".join(SYMBOLS))
    monkeypatch.setenv("QUANTFLOW_SHARD_INDEX", "2")
    monkeypatch.setenv("QUANTFLOW_SHARD_COUNT", "3")
    assert Settings().shard_symbols() == ("ETHUSDT",)


def test_one_shard_takes_every_symbol() -> None:
    assert Settings(symbols=SYMBOLS).shard_symbols() == tuple(sorted(SYMBOLS))


@pytest.mark.parametrize(
    ("given", "problem"),
    [
        ({"shard_index": 2, "shard_count": 2}, "SHARD_INDEX \\(2\\) must be below"),
        ({"shard_count": 3, "symbols": ("BTCUSDT", "ETHUSDT")}, "a shard would have none"),
        ({"shard_count": 2, "source": "demo"}, "runs as one ingest"),
    ],
)
def test_impossible_shards_are_refused(given: dict[str, object], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        Settings(**given)  # type: ignore[arg-type]
