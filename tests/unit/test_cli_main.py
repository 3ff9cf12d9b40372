"""Unit tests for services/cli/main.py: what `quantflow up`'s flags turn into."""

from __future__ import annotations

import os

import pytest

from services.cli.main import build_parser, up_settings
from services.common.settings import DEFAULT_STREAMS


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.upper().startswith("QUANTFLOW_"):
            monkeypatch.delenv(key)


def test_up_streams_and_symbols_flags_override_their_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("QUANTFLOW_STREAMS", "trade")
    monkeypatch.setenv("QUANTFLOW_SYMBOLS", "BTCUSDT")
    args = build_parser().parse_args(
        ["up", "--streams", "aggTrade,kline_1M", "--symbols", "ethusdt,DOTUSDT"]
    )
    settings, names = up_settings(args)
    assert settings.streams == ("aggTrade", "kline_1M")
    assert settings.symbols == ("ETHUSDT", "DOTUSDT")
    assert names["streams"] == "--streams" and names["symbols"] == "--symbols"


def test_up_without_streams_flag_takes_the_variable_else_the_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    parser = build_parser()
    settings, names = up_settings(parser.parse_args(["up"]))
    assert settings.streams == DEFAULT_STREAMS
    assert names["streams"] == "QUANTFLOW_STREAMS"
    monkeypatch.setenv("QUANTFLOW_STREAMS", "bookTicker")
    assert up_settings(parser.parse_args(["up"]))[0].streams == ("bookTicker",)


def test_up_with_an_unknown_stream_names_the_flag() -> None:
    args = build_parser().parse_args(["up", "--streams", "trade,depth"])
    with pytest.raises(SystemExit) as stopped:
        up_settings(args)
    assert str(stopped.value).startswith("quantflow: --streams: unknown stream 'depth'")
