"""REST trades, aggTrades and klines become exactly the events the WebSocket parser makes of
the same trade, aggregate or final candle."""

from __future__ import annotations

import dataclasses
import json

from services.common.events import AggTrade, Kline
from services.common.trades import Trade
from services.ingest.binance import Malformed, parse_message
from services.ingest.recordings import read_recording
from services.ingest.rest_payloads import parse_rest_agg_trade, parse_rest_kline, parse_rest_trade
from tests.conftest import FIXTURES, SAMPLE_CAPTURE
from tests.fakes.binance_rest import agg_trades_from_capture, rest_trade

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


def test_every_captured_agg_trade_parses_the_same_from_rest_as_from_the_websocket() -> None:
    capture = FIXTURES / "binance_spot_ws_2021-04-04_kline_aggtrade.jsonl"
    rest_items = agg_trades_from_capture(capture)
    compared = 0
    for recorded in read_recording(capture):
        live = parse_message(recorded.text)
        if not isinstance(live, AggTrade):
            continue
        item = next(a for a in rest_items[live.symbol] if a["a"] == live.agg_id)
        backfilled = parse_rest_agg_trade(item, "binance", live.symbol)
        assert backfilled == dataclasses.replace(live, event_time_ms=live.trade_time_ms)
        compared += 1
    assert compared == 1_910


def test_a_captured_final_kline_parses_the_same_from_rest_as_from_the_websocket() -> None:
    capture = FIXTURES / "binance_spot_ws_2021-04-04_kline_aggtrade.jsonl"
    finals = [
        verdict
        for recorded in read_recording(capture)
        if isinstance(verdict := parse_message(recorded.text), Kline) and verdict.closed
    ]
    assert len(finals) == 3
    for live in finals:
        message = next(
            json.loads(r.text)["data"]["k"]
            for r in read_recording(capture)
            if '"x":true' in r.text and f'"s":"{live.symbol}"' in r.text
        )
        fields = "t o h l c v T q n V Q B".split()
        item = [message[f] for f in fields]
        backfilled = parse_rest_kline(item, "binance", live.symbol, "1m")
        # REST has neither trade ids nor an event time.
        assert backfilled == dataclasses.replace(
            live, first_trade_id=-1, last_trade_id=-1, event_time_ms=live.close_time_ms
        )


def test_invalid_rest_klines_are_malformed_naming_the_position() -> None:
    good = [1660435200000, "1982.2", "1985", "1980", "1984", "10", 1660435259999, "1", 7, "1", "1"]
    assert isinstance(parse_rest_kline(good, "binance", "ETHUSDT", "1m", now_ms=NOW_MS), Kline)
    high_below_low = [*good[:2], "1979", *good[3:]]
    verdict = parse_rest_kline(high_below_low, "binance", "ETHUSDT", "1m", now_ms=NOW_MS)
    assert isinstance(verdict, Malformed) and "high" in verdict.reason
    assert isinstance(parse_rest_kline(good[:5], "binance", "ETHUSDT", "1m"), Malformed)
    assert isinstance(parse_rest_kline({"t": 1}, "binance", "ETHUSDT", "1m"), Malformed)
    bad_count = [*good[:8], "7", *good[9:]]
    verdict = parse_rest_kline(bad_count, "binance", "ETHUSDT", "1m", now_ms=NOW_MS)
    assert isinstance(verdict, Malformed) and "n" in verdict.reason
