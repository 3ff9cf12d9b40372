"""The market is part of a trade's identity: spot and USDⓈ-M futures told apart at ingest,
forced by a replay's setting, and asked for by venue in GraphQL (issue 6, item 14).

No servers: the GraphQL cases run with ``context_value=None``, so passing ones prove that
validation happens before any backend is touched.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from graph.schema import schema
from services.cli.main import build_parser
from services.common.settings import Settings
from services.common.trades import Trade
from services.ingest.binance import parse_message
from services.ingest.recordings import read_recording
from services.ingest.sources import RawMessage, ReplaySource, source_from_settings
from services.ingest.venues import detect_venue

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "binance"
SPOT_JSONL = FIXTURES / "binance_spot_btcusdt_2024-08-08.sample.jsonl"
USDM_JSONL = FIXTURES / "binance_usdm_btcusdt_2022-08-11.sample.jsonl"


def _trades(path: Path) -> list[Trade]:
    verdicts = [parse_message(line.text) for line in read_recording(path)]
    return [v for v in verdicts if isinstance(v, Trade)]


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.upper().startswith("QUANTFLOW_"):
            monkeypatch.delenv(key)


# --- detection from the payload's own fields ----------------------------------------------


def test_detect_venue_of_real_spot_trade_payload_is_binance() -> None:
    first = next(line.text for line in read_recording(SPOT_JSONL) if "@trade" in line.text)
    assert detect_venue(json.loads(first)["data"]) == "binance"


def test_detect_venue_of_real_usdm_trade_payload_is_binance_usdm() -> None:
    first = next(line.text for line in read_recording(USDM_JSONL) if "@trade" in line.text)
    assert detect_venue(json.loads(first)["data"]) == "binance_usdm"


def test_detect_venue_of_payload_with_both_x_and_m_is_spot() -> None:
    # "M" is spot's own field; an "X" beside it does not make a futures trade.
    assert detect_venue({"e": "trade", "X": "MARKET", "M": True}) == "binance"


def test_parse_message_of_usdm_capture_gives_futures_trades() -> None:
    trades = _trades(USDM_JSONL)
    assert [t.trade_id for t in trades] == list(range(2691833663, 2691833668))
    assert {(t.venue, t.symbol) for t in trades} == {("binance_usdm", "BTCUSDT")}
    assert (trades[0].price, trades[0].quantity) == ("24670.90", "0.022")


def test_parse_message_of_spot_capture_keeps_venue_binance() -> None:
    trades = _trades(SPOT_JSONL)
    assert len(trades) == 89
    assert {t.venue for t in trades} == {"binance"}


# --- a venue forced by the user ------------------------------------------------------------


@pytest.mark.parametrize(
    ("forced", "capture"), [("binance_usdm", SPOT_JSONL), ("binance", USDM_JSONL)]
)
async def test_replay_source_with_forced_venue_sets_it_on_every_trade(
    forced: str, capture: Path
) -> None:
    source = ReplaySource(capture, venue=forced)
    venues = set()
    async for message in source.messages():
        verdict = parse_message(message.text)
        if isinstance(verdict, Trade):
            venues.add(source.adjust(verdict, message).venue)
    assert venues == {forced}


def test_replay_source_without_forced_venue_keeps_the_detected_one() -> None:
    [trade, *_] = _trades(USDM_JSONL)
    assert ReplaySource(USDM_JSONL).adjust(trade, RawMessage("", 0)) == trade


def test_source_from_settings_passes_the_venue_to_a_replay() -> None:
    source = source_from_settings(
        f"replay:{USDM_JSONL}", base_url="", symbols=(), speed=0, loop=False, venue="binance"
    )
    assert isinstance(source, ReplaySource) and source.venue == "binance"


def test_settings_venue_defaults_to_auto() -> None:
    assert Settings().venue == "auto"


def test_settings_venue_env_binance_usdm_with_replay_is_accepted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("QUANTFLOW_SOURCE", f"replay:{USDM_JSONL}")
    monkeypatch.setenv("QUANTFLOW_VENUE", "binance_usdm")
    assert Settings().venue == "binance_usdm"


def test_settings_venue_unknown_raises_validation_error_listing_known_venues() -> None:
    with pytest.raises(ValidationError, match="binance_usdm") as error:
        Settings(source=f"replay:{USDM_JSONL}", venue="kraken")
    assert error.value.errors()[0]["loc"] == ("venue",)


@pytest.mark.parametrize("source", ["binance", "demo"])
def test_settings_venue_binance_usdm_with_spot_only_source_raises_validation_error(
    source: str,
) -> None:
    with pytest.raises(ValidationError, match="replay:<path> only"):
        Settings(source=source, venue="binance_usdm")


def test_up_venue_flag_accepts_known_venues_and_defaults_to_unset() -> None:
    parser = build_parser()
    assert parser.parse_args(["up"]).venue is None
    assert parser.parse_args(["up", "--venue", "binance_usdm"]).venue == "binance_usdm"
    with pytest.raises(SystemExit):
        parser.parse_args(["up", "--venue", "kraken"])


# --- GraphQL: venue field and arguments ---------------------------------------------------


def _field(sdl: str, type_name: str, field: str) -> str:
    block = re.search(rf"^type {type_name} \{{\n(.*?)^\}}", sdl, re.MULTILINE | re.DOTALL)
    assert block, f"type {type_name} missing from the SDL"
    line = re.search(rf"^\s*{field}\b.*$", block.group(1), re.MULTILINE)
    assert line, f"{type_name}.{field} missing from the SDL"
    return line.group(0).strip()


def test_sdl_price_has_a_non_null_venue() -> None:
    assert _field(schema.as_str(), "Price", "venue") == "venue: String!"


def test_sdl_price_query_venue_argument_defaults_to_binance_spot() -> None:
    expected = 'price(symbol: String!, venue: String! = "binance"): Price'
    assert _field(schema.as_str(), "Query", "price") == expected


def test_sdl_prices_query_and_trades_subscription_take_an_optional_venue() -> None:
    sdl = schema.as_str()
    assert _field(sdl, "Query", "prices") == (
        "prices(symbols: [String!] = null, venue: String = null): [Price!]"
    )
    assert _field(sdl, "Subscription", "trades") == (
        "trades(symbols: [String!] = null, venue: String = null): Trade!"
    )


@pytest.mark.parametrize(
    "query",
    [
        '{ price(symbol: "BTCUSDT", venue: "kraken") { price } }',
        '{ prices(venue: "kraken") { price } }',
    ],
)
async def test_unknown_venue_returns_invalid_argument_naming_it(query: str) -> None:
    result = await schema.execute(query, context_value=None)
    assert result.errors is not None and len(result.errors) == 1
    assert result.errors[0].extensions == {"code": "INVALID_ARGUMENT"}
    assert "kraken" in result.errors[0].message
    assert "binance_usdm" in result.errors[0].message
