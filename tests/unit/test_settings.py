"""Unit tests for services/common/settings.py: QUANTFLOW_* environment → one Settings."""

from __future__ import annotations

import os

import pytest
from pydantic import SecretStr, ValidationError

from services.common.settings import (
    BINANCE_WS_URL,
    DEFAULT_SYMBOLS,
    Settings,
    describe_invalid,
    unknown_variable,
)

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
    with pytest.raises(ValidationError) as caught:
        Settings()
    assert describe_invalid(caught.value, {}) == (
        "QUANTFLOW_SYMBOLS: 'BTC-USD' is not an exchange symbol such as BTCUSDT "
        "(2 to 30 letters or digits)"
    )


def test_symbols_env_empty_raises_validation_error_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("QUANTFLOW_SYMBOLS", " , ")
    with pytest.raises(ValidationError) as caught:
        Settings()
    assert describe_invalid(caught.value, {}).startswith("QUANTFLOW_SYMBOLS: give at least")


def test_symbols_keyword_list_is_upper_cased_to_tuple() -> None:
    assert Settings(symbols=["btcusdt"]).symbols == ("BTCUSDT",)  # type: ignore[arg-type]


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
    with pytest.raises(ValidationError) as caught:
        Settings()
    assert describe_invalid(caught.value, {}) == (
        "QUANTFLOW_SOURCE: use 'binance', 'demo' or 'replay:<path>'"
    )


def test_source_from_a_flag_is_named_once_by_the_flag() -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(source="kraken")
    assert describe_invalid(caught.value, {"source": "--source"}) == (
        "--source: use 'binance', 'demo' or 'replay:<path>'"
    )


# --- strictness --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typo", "meant"),
    [
        ("QUANTFLOW_SYMBOL", "QUANTFLOW_SYMBOLS"),
        ("QUANTFLOW_DATABSE_URL", "QUANTFLOW_DATABASE_URL"),
    ],
)
def test_misspelled_variable_stops_settings_naming_the_closest_setting(
    monkeypatch: pytest.MonkeyPatch, typo: str, meant: str
) -> None:
    monkeypatch.setenv(typo, "x")
    with pytest.raises(ValidationError) as caught:
        Settings()
    assert describe_invalid(caught.value, {}) == (
        f"{typo} is not a QuantFlow setting; did you mean {meant}?"
    )


def test_unknown_variable_far_from_every_setting_points_to_the_readme() -> None:
    assert unknown_variable("QUANTFLOW_ZZZZZZZZZZZZ", Settings.model_fields) == (
        "QUANTFLOW_ZZZZZZZZZZZZ is not a QuantFlow setting; see Configuration in the README"
    )


@pytest.mark.parametrize(
    "key", ["QUANTFLOW_SOURCE", "quantflow_source", "QUANTFLOW_TEST_X", "HOME"]
)
def test_settings_harness_and_foreign_variables_are_not_unknown(key: str) -> None:
    assert unknown_variable(key, Settings.model_fields) is None


def test_harness_variable_does_not_stop_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUANTFLOW_TEST_BROWSER", "chromium")
    assert Settings().source == "binance"


def test_log_level_is_upper_cased_and_checked() -> None:
    assert Settings(log_level="debug").log_level == "DEBUG"
    with pytest.raises(ValidationError) as caught:
        Settings(log_level="loud")
    assert describe_invalid(caught.value, {"log_level": "--log-level"}).startswith(
        "--log-level: use one of DEBUG"
    )


def test_settings_with_unknown_keyword_raises_validation_error() -> None:
    with pytest.raises(ValidationError, match="nonsense"):
        Settings(nonsense=1)  # type: ignore[call-arg]


def test_settings_are_frozen() -> None:
    settings = Settings()
    with pytest.raises(ValidationError):
        settings.source = "demo"


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


def test_streams_default_to_trade_aggtrade_and_one_minute_klines() -> None:
    assert Settings().streams == ("trade", "aggTrade", "kline_1m")


def test_streams_env_keeps_binance_spelling_and_the_interval_case(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("QUANTFLOW_STREAMS", "trade, bookTicker,kline_1M,kline_1m,ticker,trade")
    assert Settings().streams == ("trade", "bookTicker", "kline_1M", "kline_1m", "ticker")


@pytest.mark.parametrize("streams", ["depth", "kline_2m", "aggtrade", " , "])
def test_streams_env_with_unsupported_stream_stops_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, streams: str
) -> None:
    monkeypatch.setenv("QUANTFLOW_STREAMS", streams)
    with pytest.raises(ValidationError) as caught:
        Settings()
    assert describe_invalid(caught.value, {}).startswith("QUANTFLOW_STREAMS: ")
