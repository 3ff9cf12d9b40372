"""data.binance.vision rows → events: names, layouts, venues, µs times, and bad rows named
by file, line and column. Real kline files; trades/aggTrades in the archive layouts built
from real captured trades."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from services.common.events import AggTrade, Event, Kline
from services.common.trades import Trade
from services.ingest.vision_files import (
    AGG_TRADES,
    KLINES,
    TRADES,
    BadFile,
    Contents,
    FileReader,
    Given,
    detect_venue,
    identify,
)
from tests.fakes.vision_archives import (
    AGG_TRADE_HEADER,
    KLINE_HEADER,
    REAL_KLINES,
    TRADE_HEADER,
    agg_trade_items,
    agg_trade_lines,
    kline_in_microseconds,
    read_lines,
    trade_items,
    trade_lines,
)

NOW = 1_800_000_000_000  # 2027: every file lies in the past


def _read(lines: list[str], contents: Contents, size: int = 1000) -> tuple[FileReader, list[Event]]:
    reader = FileReader("the-file.csv", contents, now_ms=NOW)
    return reader, [event for chunk in reader.chunks(lines, size) for event in chunk]


def _klines(interval: str = "1m", venue: str | None = None) -> Contents:
    return Contents("BTCUSDT", KLINES, interval, venue)


@pytest.mark.parametrize(
    ("name", "symbol", "kind", "interval"),
    [
        ("BTCUSDT-1m-2022-05-05.zip", "BTCUSDT", KLINES, "1m"),
        ("ETHUSDT-1h-2022-09.csv", "ETHUSDT", KLINES, "1h"),
        ("BTCUSDT-1mo-2022-05.zip", "BTCUSDT", KLINES, "1M"),
        ("BTCUSDT-aggTrades-2022-05.zip", "BTCUSDT", AGG_TRADES, None),
        ("1000SHIBUSDT-trades-2024-01-02.csv", "1000SHIBUSDT", TRADES, None),
    ],
)
def test_identify_reads_symbol_kind_and_interval_from_the_standard_name(
    name: str, symbol: str, kind: str, interval: str | None
) -> None:
    assert identify(name) == Contents(symbol, kind, interval, None)


def test_identify_lets_flags_win_over_the_name_and_name_an_unknown_one() -> None:
    assert identify("BTCUSDT-1m-2022-05-05.csv", Given(interval="5m", venue="binance")) == (
        Contents("BTCUSDT", KLINES, "5m", "binance")
    )
    assert identify("prices.csv", Given("ETHUSDT", KLINES, "1h")) == (
        Contents("ETHUSDT", KLINES, "1h", None)
    )
    with pytest.raises(BadFile, match=r"prices\.csv: .* give --symbol and --kind"):
        identify("prices.csv")
    with pytest.raises(BadFile, match="give --interval"):
        identify("prices.csv", Given("ETHUSDT", KLINES))


@pytest.mark.parametrize(
    ("name", "given", "problem"),
    [
        ("BTCUSDT-7m-2022-05-05.csv", Given(), "7m"),
        ("x.csv", Given("btcusdt", KLINES, "1m"), "upper-case symbol"),
        ("BTCUSDT-trades-2022-05.csv", Given(interval="1m"), "for klines"),
        ("BTCUSDT-trades-2022-05.csv", Given(venue="kraken"), "kraken"),
    ],
)
def test_identify_refuses_what_is_not_importable(name: str, given: Given, problem: str) -> None:
    with pytest.raises(BadFile, match=problem):
        identify(name, given)


def test_venue_of_trades_and_agg_trades_is_their_column_count() -> None:
    assert detect_venue(TRADES, ["1"] * 7, has_header=False) == "binance"
    assert detect_venue(TRADES, ["1"] * 6, has_header=True) == "binance_usdm"
    assert detect_venue(AGG_TRADES, ["1"] * 8, has_header=False) == "binance"
    assert detect_venue(AGG_TRADES, ["1"] * 7, has_header=False) == "binance_usdm"
    with pytest.raises(ValueError, match=r"5 columns; trades files have 7 \(spot\) or 6"):
        detect_venue(TRADES, ["1"] * 5, has_header=False)


@pytest.mark.parametrize(("path", "venue", "symbol", "interval", "rows"), REAL_KLINES)
def test_every_real_kline_file_reads_to_its_rows_and_venue(
    path: Path, venue: str, symbol: str, interval: str, rows: int
) -> None:
    lines = read_lines(path)
    reader, events = _read(lines, identify(path.name))
    assert reader.contents.venue == venue
    assert reader.rows == len(events) == rows
    for line, event in zip(lines, events, strict=True):
        fields = line.split(",")
        assert isinstance(event, Kline)
        assert (event.venue, event.symbol, event.interval) == (venue, symbol, interval)
        assert event.open_time_ms == int(fields[0])
        assert event.close_time_ms == int(fields[6])
        assert [event.open, event.high, event.low, event.close, event.volume] == fields[1:6]
        assert event.quote_volume == fields[7]
        assert event.trades == int(fields[8])
        assert [event.taker_buy_volume, event.taker_buy_quote_volume] == fields[9:11]
        assert event.closed and event.first_trade_id == event.last_trade_id == -1
        event.validate(NOW)  # what storage's decoder would accept from the bus


def test_a_header_row_is_skipped_and_makes_klines_futures() -> None:
    lines = read_lines(REAL_KLINES[0][0])  # spot ETHUSDT, 8 decimals
    reader, events = _read([KLINE_HEADER, *lines], _klines())
    assert reader.has_header and reader.rows == 1440
    assert reader.contents.venue == "binance_usdm"
    plain_reader, plain = _read(lines, _klines())
    assert plain_reader.contents.venue == "binance" and not plain_reader.has_header
    assert [replace(e, venue="binance") for e in events] == plain


def test_microsecond_times_read_to_the_same_klines_as_milliseconds() -> None:
    lines = read_lines(REAL_KLINES[0][0])
    _, in_ms = _read(lines, _klines())
    _, in_us = _read([kline_in_microseconds(line) for line in lines], _klines())
    assert in_us == in_ms
    assert kline_in_microseconds(lines[0]).split(",")[6].endswith("999999")


def test_a_given_venue_is_kept_for_klines_and_checked_for_trades() -> None:
    lines = read_lines(REAL_KLINES[0][0])
    reader, _ = _read(lines[:3], _klines(venue="binance_usdm"))
    assert reader.contents.venue == "binance_usdm"
    spot_rows = trade_lines(trade_items()[:3], "binance")
    with pytest.raises(BadFile, match="line 1: 7 columns is the binance layout of trades, but"):
        _read(spot_rows, Contents("BTCUSDT", TRADES, None, "binance_usdm"))


@pytest.mark.parametrize("venue", ["binance", "binance_usdm"])
def test_agg_trade_rows_read_to_the_captured_agg_trades(venue: str) -> None:
    items = agg_trade_items()
    header = [AGG_TRADE_HEADER] if venue == "binance_usdm" else []
    reader, events = _read(
        [*header, *agg_trade_lines(items, venue)],
        Contents("BTCUSDT", AGG_TRADES, None, None),
        size=100,
    )
    assert reader.contents.venue == venue and len(events) == len(items) == 1227
    for item, event in zip(items, events, strict=True):
        assert event == AggTrade(
            venue, "BTCUSDT", item["a"], item["p"], item["q"], item["f"], item["l"],
            item["T"], item["T"], item["m"],
        )  # fmt: skip


@pytest.mark.parametrize("venue", ["binance", "binance_usdm"])
def test_trade_rows_read_to_the_captured_trades(venue: str) -> None:
    items = trade_items()
    header = [TRADE_HEADER] if venue == "binance_usdm" else []
    reader, events = _read(
        [*header, *trade_lines(items, venue)], Contents("BTCUSDT", TRADES, None, None)
    )
    assert reader.contents.venue == venue and len(events) == len(items) == 9757
    for item, event in zip(items, events, strict=True):
        assert event == Trade(
            venue, "BTCUSDT", item["id"], item["price"], item["qty"], item["time"], item["time"],
            item["isBuyerMaker"],
        )  # fmt: skip


def _kline_line(**changes: str) -> str:
    columns = KLINE_HEADER.split(",")
    fields = read_lines(REAL_KLINES[0][0])[0].split(",")
    for column, value in changes.items():
        fields[columns.index(column)] = value
    return ",".join(fields)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (_kline_line(open="1,983.55"), "13 columns, expected 12"),
        (_kline_line(open="abc"), "open: 'abc' is not a decimal number"),
        (_kline_line(low="0.00000000"), "low: '0.00000000' must be greater than zero"),
        (_kline_line(volume="-1.0"), "volume: '-1.0' is not a decimal number"),
        (_kline_line(high="1000.00000000"), "high: high 1000.00000000 is below low"),
        (_kline_line(open_time="12345"), "open_time: time 12345 is neither epoch milliseconds"),
        (_kline_line(close_time="1660435100000"), "close time 1660435100000 is before open time"),
        (_kline_line(count="many"), "count: 'many' is not an integer"),
        ("", "1 columns, expected 12"),
    ],
)
def test_a_bad_kline_row_is_refused_naming_file_line_and_column(bad: str, message: str) -> None:
    lines = read_lines(REAL_KLINES[0][0])[:5]
    lines[3] = bad
    with pytest.raises(BadFile) as raised:
        _read(lines, _klines())
    assert str(raised.value).startswith("the-file.csv line 4: ")
    assert message in str(raised.value)


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        (5, "maybe", "is_buyer_maker: 'maybe' is neither true nor false"),
        (4, "1723161255", "time: time 1723161255 is neither"),
        (0, "-5", "id: trade id -5 is outside"),
        (3, "x", "quote_qty: 'x' is not a decimal number"),
    ],
)
def test_a_bad_trade_row_is_refused_naming_line_and_column(
    column: int, value: str, message: str
) -> None:
    lines = trade_lines(trade_items()[:4], "binance")
    fields = lines[2].split(",")
    fields[column] = value
    lines[2] = ",".join(fields)
    with pytest.raises(BadFile, match=f"the-file.csv line 3: {message}"):
        _read(lines, Contents("BTCUSDT", TRADES, None, None))


def test_agg_trade_ids_must_run_forwards() -> None:
    items = [dict(item) for item in agg_trade_items()[:2]]
    items[1]["l"] = items[1]["f"] - 1
    with pytest.raises(BadFile, match=r"line 2: last_trade_id: .* is before first trade id"):
        _read(agg_trade_lines(items, "binance"), Contents("BTCUSDT", AGG_TRADES, None, None))


def test_chunks_hold_at_most_the_size_asked_and_every_row_once() -> None:
    lines = read_lines(REAL_KLINES[0][0])
    reader = FileReader("f", _klines(), now_ms=NOW)
    sizes = [len(chunk) for chunk in reader.chunks(lines, 500)]
    assert sizes == [500, 500, 440]
