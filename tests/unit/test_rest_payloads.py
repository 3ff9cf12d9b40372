"""REST trades become exactly the Trade the WebSocket parser makes of the same trade."""

from __future__ import annotations

import dataclasses
import json

from services.common.trades import Trade
from services.ingest.binance import Malformed, parse_message
from services.ingest.recordings import read_recording
from services.ingest.rest_payloads import parse_rest_trade
from tests.conftest import SAMPLE_CAPTURE
from tests.fakes.binance_rest import rest_trade

NOW_MS = 1_723_161_600_000


def test_every_captured_trade_parses_the_same_from_rest_as_from_the_websocket() -> None:
    compared = 0
    for recorded in read_recording(SAMPLE_CAPTURE):
        live = parse_message(recorded.text, now_ms=NOW_MS)
        if not isinstance(live, Trade):
            continue
        item = rest_trade(json.loads(recorded.text)["data"])
        backfilled = parse_rest_trade(item, "binance", "BTCUSDT", now_ms=NOW_MS)
        # REST has no event time: the trade time stands in for it.
        assert backfilled == dataclasses.replace(live, event_time_ms=live.trade_time_ms)
        compared += 1
    assert compared == 89


def test_microsecond_rest_times_are_normalised_to_milliseconds() -> None:
    item = {"id": 5, "price": "1.5", "qty": "2", "time": 1723161255209123, "isBuyerMaker": True}
    trade = parse_rest_trade(item, "binance", "BTCUSDT", now_ms=NOW_MS)
    assert isinstance(trade, Trade) and trade.trade_time_ms == 1723161255209


def test_invalid_rest_trades_are_malformed_naming_the_field() -> None:
    good = {"id": 5, "price": "1.5", "qty": "2", "time": 1723161255209, "isBuyerMaker": True}
    cases = {
        "price": {**good, "price": "-1"},
        "qty": {**good, "qty": "NaN"},
        "id": {**good, "id": "5"},
        "isBuyerMaker": {**good, "isBuyerMaker": "yes"},
    }
    for field, item in cases.items():
        verdict = parse_rest_trade(item, "binance", "BTCUSDT", now_ms=NOW_MS)
        assert isinstance(verdict, Malformed) and field in verdict.reason, field
    assert isinstance(parse_rest_trade([1, 2], "binance", "BTCUSDT"), Malformed)
