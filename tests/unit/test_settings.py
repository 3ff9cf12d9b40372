"""Unit tests for services/common/settings.py: QUANTFLOW_* environment → one Settings."""

from __future__ import annotations

import os

import pytest
from pydantic import SecretStr, ValidationError

from services.common.settings import BINANCE_WS_URL, DEFAULT_SYMBOLS, Settings

DB_PASSWORD = "s3cr3t-Pa55word"
DB_URL = f"postgresql://quant:{DB_PASSWORD}@db.internal:5432/quantflow"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts from no QUANTFLOW_* variables, whatever the shell had."""
    for key in list(os.environ):
        if key.upper().startswith("QUANTFLOW_"):
            monkeypatch.delenv(key)


def test_settings_without_environment_uses_defaults() -> None:
    settings = Settings()
    assert settings.symbols == DEFAULT_SYMBOLS == ("BTCUSDT", "ETHUSDT")
    assert settings.source == "binance"
    assert settings.binance_ws_url == BINANCE_WS_URL
    assert settings.namespace == ""
    assert settings.database_url is None
    assert settings.database_dsn() is None


# --- symbols -----------------------------------------------------------------------------


def test_symbols_env_with_comma_and_space_is_split_and_upper_cased(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("QUANTFLOW_SYMBOLS", "btcusdt, ethusdt")
    assert Settings().symbols == ("BTCUSDT", "ETHUSDT")


def test_symbols_env_with_single_symbol_gives_one_tuple(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUANTFLOW_SYMBOLS", "solusdt")
    assert Settings().symbols == ("SOLUSDT",)


def test_symbols_env_with_spaces_only_between_symbols_is_split(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("QUANTFLOW_SYMBOLS", "btcusdt ethusdt,,dotusdt")
    assert Settings().symbols == ("BTCUSDT", "ETHUSDT", "DOTUSDT")


def test_symbols_env_with_dash_symbol_raises_validation_error_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("QUANTFLOW_SYMBOLS", "BTC-USD")
    with pytest.raises(ValidationError, match="QUANTFLOW_SYMBOLS") as caught:
        Settings()
    assert "BTC-USD" in str(caught.value)


def test_symbols_env_empty_raises_validation_error_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("QUANTFLOW_SYMBOLS", " , ")
    with pytest.raises(ValidationError, match="QUANTFLOW_SYMBOLS"):
        Settings()


def test_symbols_keyword_list_is_upper_cased_to_tuple() -> None:
    assert Settings(symbols=["btcusdt"]).symbols == ("BTCUSDT",)


# --- source ------------------------------------------------------------------------------


@pytest.mark.parametrize("source", ["binance", "demo", "replay:/data/capture.jsonl"])
def test_source_env_with_known_value_is_accepted(
    monkeypatch: pytest.MonkeyPatch, source: str
) -> None:
    monkeypatch.setenv("QUANTFLOW_SOURCE", source)
    assert Settings().source == source


@pytest.mark.parametrize("source", ["kafka", "replay:", "Binance", "replay", ""])
def test_source_env_with_unknown_value_raises_validation_error(
    monkeypatch: pytest.MonkeyPatch, source: str
) -> None:
    monkeypatch.setenv("QUANTFLOW_SOURCE", source)
    with pytest.raises(ValidationError, match="QUANTFLOW_SOURCE"):
        Settings()


# --- strictness --------------------------------------------------------------------------


def test_settings_with_unknown_keyword_raises_validation_error() -> None:
    with pytest.raises(ValidationError, match="nonsense"):
        Settings(nonsense=1)  # type: ignore[call-arg]


def test_settings_are_frozen() -> None:
    settings = Settings()
    with pytest.raises(ValidationError):
        settings.source = "demo"  # type: ignore[misc]


def test_replay_speed_env_negative_raises_validation_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("QUANTFLOW_REPLAY_SPEED", "-1")
    with pytest.raises(ValidationError):
        Settings()


def test_storage_batch_size_above_limit_raises_validation_error() -> None:
    with pytest.raises(ValidationError):
        Settings(storage_batch_size=50_001)


# --- database URL ------------------------------------------------------------------------


def test_database_url_env_is_secret_and_hidden_from_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUANTFLOW_DATABASE_URL", DB_URL)
    settings = Settings()
    assert isinstance(settings.database_url, SecretStr)
    assert DB_PASSWORD not in repr(settings)
    assert DB_PASSWORD not in str(settings)
    assert DB_PASSWORD not in repr(settings.database_url)


def test_database_dsn_returns_plain_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUANTFLOW_DATABASE_URL", DB_URL)
    assert Settings().database_dsn() == DB_URL


# --- namespace ---------------------------------------------------------------------------


@pytest.mark.parametrize("namespace", ["Bad.NS", "a.b", "UPPER", "x>"])
def test_namespace_env_with_invalid_value_raises_validation_error(
    monkeypatch: pytest.MonkeyPatch, namespace: str
) -> None:
    monkeypatch.setenv("QUANTFLOW_NAMESPACE", namespace)
    with pytest.raises(ValidationError, match="namespace"):
        Settings()


def test_namespace_env_with_valid_value_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUANTFLOW_NAMESPACE", "t1")
    assert Settings().namespace == "t1"
