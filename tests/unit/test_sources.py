"""Unit tests for services/ingest/sources.py: recordings, replay, the demo loop, selection.

No network: the live source is only constructed, never iterated.
"""

from __future__ import annotations

import gzip
import itertools
import json
import time
from pathlib import Path

import pytest

from services.common.trades import Trade
from services.ingest.binance import Skipped, parse_message
from services.ingest.recordings import Recorded, read_recording
from services.ingest.sources import (
    DEMO_CAPTURE,
    BinanceLiveSource,
    DemoSource,
    RawMessage,
    ReplaySource,
    Shift,
    TradePoint,
    demo_resume_shift,
    source_from_settings,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "binance"
HFT_GZ = FIXTURES / "binance_spot_btcusdt_2024-08-08.hftbacktest.gz"
SAMPLE_JSONL = FIXTURES / "binance_spot_btcusdt_2024-08-08.sample.jsonl"


def _nonempty(lines: list[str]) -> list[str]:
    return [line.strip() for line in lines if line.strip()]


@pytest.fixture(scope="module")
def hft_raw_lines() -> list[str]:
    with gzip.open(HFT_GZ, "rt", encoding="utf-8") as handle:
        return _nonempty(handle.readlines())


@pytest.fixture(scope="module")
def sample_raw_lines() -> list[str]:
    return _nonempty(SAMPLE_JSONL.read_text(encoding="utf-8").splitlines())


# --- read_recording: hftbacktest .gz layout ----------------------------------------------


def test_read_recording_gz_yields_one_item_per_nonempty_line(hft_raw_lines: list[str]) -> None:
    records = list(read_recording(HFT_GZ))
    assert len(records) == len(hft_raw_lines)
    assert len(records) == 41_249  # SOURCES.md


def test_read_recording_gz_splits_receive_ns_from_text_on_first_space(
    hft_raw_lines: list[str],
) -> None:
    for recorded, raw in zip(read_recording(HFT_GZ), hft_raw_lines, strict=True):
        stamp, _, expected_text = raw.partition(" ")
        assert recorded.received_ns == recorded.clock_ns == int(stamp)
        assert recorded.text == expected_text


def test_read_recording_gz_receive_times_are_nanoseconds_never_decreasing() -> None:
    stamps = [r.received_ns for r in read_recording(HFT_GZ)]
    assert all(ns is not None for ns in stamps)
    assert stamps == sorted(stamps)  # type: ignore[type-var]
    # 2024-08-08 23:54 UTC in ns has 19 digits.
    assert all(len(str(ns)) == 19 for ns in stamps)


def test_read_recording_gz_includes_rest_snapshot_line_as_text() -> None:
    snapshots = [
        (index, recorded.text)
        for index, recorded in enumerate(read_recording(HFT_GZ))
        if recorded.text.startswith('{"lastUpdateId"')
    ]
    assert len(snapshots) == 1
    index, text = snapshots[0]
    assert index == 7  # SOURCES.md: line 8
    assert parse_message(text) == Skipped("depthSnapshot")


# --- read_recording: .jsonl layout -------------------------------------------------------


def test_read_recording_jsonl_yields_each_line_verbatim(sample_raw_lines: list[str]) -> None:
    texts = [r.text for r in read_recording(SAMPLE_JSONL)]
    assert texts == sample_raw_lines
    assert len(texts) == 599


def test_read_recording_jsonl_recorded_time_is_event_time_in_ns_or_none(
    sample_raw_lines: list[str],
) -> None:
    with_time = without_time = 0
    for recorded, raw in zip(read_recording(SAMPLE_JSONL), sample_raw_lines, strict=True):
        data = json.loads(raw)["data"]
        assert recorded.received_ns is None
        if "E" in data:
            assert recorded.clock_ns == data["E"] * 1_000_000
            with_time += 1
        else:
            assert recorded.clock_ns is None
            without_time += 1
    assert with_time == 89 + 41
    assert without_time == 469


def test_read_recording_jsonl_book_ticker_lines_have_no_recorded_time(
    sample_raw_lines: list[str],
) -> None:
    records = list(read_recording(SAMPLE_JSONL))
    book = [
        rec
        for rec, raw in zip(records, sample_raw_lines, strict=True)
        if '"btcusdt@bookTicker"' in raw
    ]
    assert len(book) == 469
    assert {recorded.clock_ns for recorded in book} == {None}


def test_read_recording_jsonl_skips_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "blanks.jsonl"
    path.write_text('\n{"result":null,"id":1}\n\n   \n{"E":5}\n', encoding="utf-8")
    assert list(read_recording(path)) == [
        Recorded('{"result":null,"id":1}', None),
        Recorded('{"E":5}', None),
    ]


# --- ReplaySource ------------------------------------------------------------------------


async def test_replay_source_at_speed_zero_yields_every_line_once_then_finishes(
    sample_raw_lines: list[str],
) -> None:
    source = ReplaySource(SAMPLE_JSONL, speed=0)
    assert source.finished is False
    seen: list[RawMessage] = []
    async for message in source.messages():
        assert source.connected is True
        seen.append(message)
    assert [m.text for m in seen] == sample_raw_lines
    assert {m.pass_index for m in seen} == {0}
    assert source.finished is True
    assert source.connected is False
    assert source.connections_opened == 1


async def test_replay_source_gz_at_speed_zero_yields_every_line(
    hft_raw_lines: list[str],
) -> None:
    source = ReplaySource(HFT_GZ, speed=0)
    count = 0
    async for _ in source.messages():
        count += 1
    assert count == len(hft_raw_lines)
    assert source.finished is True


async def test_replay_source_stamps_messages_with_local_receive_time_us() -> None:
    before = time.time_ns() // 1000
    source = ReplaySource(SAMPLE_JSONL, speed=0)
    first = None
    async for message in source.messages():
        first = first or message
    after = time.time_ns() // 1000
    assert first is not None
    assert before <= first.received_time_us <= after


def test_replay_source_with_missing_file_raises_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        ReplaySource(tmp_path / "no-such-recording.jsonl")


def test_replay_source_with_directory_path_raises_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        ReplaySource(tmp_path)


def _trade_line(trade_id: int, event_ms: int, separators: tuple[str, str] = (",", ":")) -> str:
    """A trade message, compact by default, as Binance sends (and recorders keep) them."""
    return json.dumps(
        {
            "stream": "btcusdt@trade",
            "data": {
                "e": "trade",
                "E": event_ms,
                "s": "BTCUSDT",
                "t": trade_id,
                "p": "61837.64000000",
                "q": "0.00100000",
                "T": event_ms - 1,
                "m": True,
                "M": True,
            },
        },
        separators=separators,
    )


def test_read_recording_jsonl_compact_trade_line_has_event_time_in_ns(tmp_path: Path) -> None:
    path = tmp_path / "one.jsonl"
    path.write_text(_trade_line(1, 1723161255208) + "\n", encoding="utf-8")
    assert [r.clock_ns for r in read_recording(path)] == [1723161255208 * 1_000_000]


# Valid JSON written with a space after the colon (json.dumps' default) must still be paced.
def test_read_recording_jsonl_with_space_after_colon_still_finds_event_time(
    tmp_path: Path,
) -> None:
    path = tmp_path / "spaced.jsonl"
    path.write_text(_trade_line(1, 1723161255208, (", ", ": ")) + "\n", encoding="utf-8")
    assert [r.clock_ns for r in read_recording(path)] == [1723161255208 * 1_000_000]


async def test_replay_source_at_speed_two_paces_400ms_of_recording_over_at_least_180ms(
    tmp_path: Path,
) -> None:
    base = 1723161255208
    path = tmp_path / "three_trades.jsonl"
    path.write_text(
        "".join(_trade_line(100 + i, base + 200 * i) + "\n" for i in range(3)), encoding="utf-8"
    )
    source = ReplaySource(path, speed=2.0)
    started = time.monotonic()
    arrivals: list[float] = []
    async for _ in source.messages():
        arrivals.append(time.monotonic() - started)
    assert len(arrivals) == 3
    # 400 ms of recorded time at 2x is 200 ms; allow a little timer slack, no upper bound.
    assert arrivals[-1] >= 0.18
    assert arrivals[1] >= 0.08  # the middle message is paced too, not just the end


async def test_replay_source_at_speed_zero_does_not_pace(tmp_path: Path) -> None:
    # Counterpart of the pacing test: recorded times 10 s apart, replayed without waiting.
    path = tmp_path / "far_apart.jsonl"
    path.write_text(
        _trade_line(1, 1723161255208) + "\n" + _trade_line(2, 1723161265208) + "\n",
        encoding="utf-8",
    )
    started = time.monotonic()
    count = 0
    async for _ in ReplaySource(path, speed=0).messages():
        count += 1
    assert count == 2
    assert time.monotonic() - started < 5.0


def test_replay_source_adjust_returns_trade_unchanged() -> None:
    source = ReplaySource(SAMPLE_JSONL)
    trade = Trade("binance", "BTCUSDT", 1, "1", "1", 1, 1, True)
    assert source.adjust(trade, RawMessage("{}", 0, pass_index=3)) is trade


# --- DemoSource --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_capture() -> list[tuple[RawMessage, Trade]]:
    """The bundled capture's trades with the RawMessage each came from."""
    source = DemoSource()
    pairs = []
    for recorded in read_recording(source.path):
        verdict = parse_message(recorded.text)
        if isinstance(verdict, Trade):
            pairs.append((RawMessage(recorded.text, 0), verdict))
    return pairs


def test_demo_source_loads_the_bundled_capture() -> None:
    source = DemoSource()
    assert source.path.name == DEMO_CAPTURE
    assert source.path.is_file()
    assert source.loop is True
    assert source.description == "demo"
    assert source.path.read_bytes() == SAMPLE_JSONL.read_bytes()


def test_demo_source_with_speed_zero_falls_back_to_recorded_pace() -> None:
    assert DemoSource(speed=0).speed == 1.0


def test_demo_capture_trade_ids_are_consecutive(
    demo_capture: list[tuple[RawMessage, Trade]],
) -> None:
    ids = [trade.trade_id for _, trade in demo_capture]
    assert len(ids) == 89
    assert ids == list(range(ids[0], ids[0] + len(ids)))


def _adjusted(
    source: DemoSource, capture: list[tuple[RawMessage, Trade]], pass_index: int
) -> list[Trade]:
    return [
        source.adjust(trade, RawMessage(message.text, message.received_time_us, pass_index))
        for message, trade in capture
    ]


def test_demo_adjust_on_pass_zero_returns_trades_unchanged(
    demo_capture: list[tuple[RawMessage, Trade]],
) -> None:
    source = DemoSource()
    assert _adjusted(source, demo_capture, 0) == [trade for _, trade in demo_capture]


def test_demo_adjust_over_three_passes_gives_one_consecutive_run_of_trade_ids(
    demo_capture: list[tuple[RawMessage, Trade]],
) -> None:
    source = DemoSource()
    ids = [t.trade_id for p in range(3) for t in _adjusted(source, demo_capture, p)]
    first = demo_capture[0][1].trade_id
    assert ids == list(range(first, first + 3 * len(demo_capture)))  # no gap, no duplicate
    assert len(set(ids)) == len(ids)


def test_demo_adjust_moves_times_forward_by_the_same_span_each_pass(
    demo_capture: list[tuple[RawMessage, Trade]],
) -> None:
    source = DemoSource()
    originals = [trade for _, trade in demo_capture]
    passes = [_adjusted(source, demo_capture, p) for p in range(3)]
    shifts = []
    for pass_index in (1, 2):
        trade_shifts = {
            a.trade_time_ms - o.trade_time_ms
            for a, o in zip(passes[pass_index], originals, strict=True)
        }
        event_shifts = {
            a.event_time_ms - o.event_time_ms
            for a, o in zip(passes[pass_index], originals, strict=True)
        }
        assert len(trade_shifts) == 1  # every trade of a pass moves by the same amount
        assert trade_shifts == event_shifts
        shifts.append(trade_shifts.pop())
    span = shifts[0]
    assert span > 0
    assert shifts[1] == 2 * span
    # Each pass starts after the previous one ended, so time never runs backwards.
    for earlier, later in itertools.pairwise(passes):
        assert min(t.trade_time_ms for t in later) > max(t.trade_time_ms for t in earlier)


def test_demo_adjust_keeps_price_quantity_and_symbol(
    demo_capture: list[tuple[RawMessage, Trade]],
) -> None:
    source = DemoSource()
    for (_, original), adjusted in zip(
        demo_capture, _adjusted(source, demo_capture, 2), strict=True
    ):
        assert (adjusted.symbol, adjusted.price, adjusted.quantity, adjusted.buyer_is_maker) == (
            original.symbol,
            original.price,
            original.quantity,
            original.buyer_is_maker,
        )


def test_demo_adjust_for_symbol_not_in_capture_returns_trade_unchanged() -> None:
    trade = Trade("binance", "ETHUSDT", 5, "1", "1", 1, 1, False)
    assert DemoSource().adjust(trade, RawMessage("{}", 0, pass_index=4)) is trade


def test_demo_pass_moves_times_by_as_long_as_it_plays_so_demo_time_keeps_pace(
    demo_capture: list[tuple[RawMessage, Trade]],
) -> None:
    # A pass plays from the first to the last recorded time (at speed 1); moving times by
    # the same amount keeps demo time at wall-clock pace instead of drifting ahead.
    recorded = [r.clock_ns for r in read_recording(SAMPLE_JSONL) if r.clock_ns is not None]
    plays_ms = (max(recorded) - min(recorded)) // 1_000_000
    source = DemoSource()
    first = demo_capture[0][1]
    assert source.adjust(first, RawMessage("{}", 0, pass_index=1)).trade_time_ms == (
        first.trade_time_ms + plays_ms
    )


# --- demo_resume_shift / DemoSource.resume_after -----------------------------------------

FIRST = TradePoint(trade_id=1000, time_ms=1_723_161_255_000)


def test_demo_resume_shift_with_nothing_known_is_no_shift() -> None:
    assert demo_resume_shift(FIRST, ()) == Shift(0, 0)


def test_demo_resume_shift_continues_ids_right_after_the_highest_known() -> None:
    shift = demo_resume_shift(FIRST, (TradePoint(1500, FIRST.time_ms + 60_000),))
    assert FIRST.trade_id + shift.trade_ids == 1501
    assert FIRST.time_ms + shift.time_ms == FIRST.time_ms + 60_001  # 1 ms after, not more


def test_demo_resume_shift_takes_the_furthest_of_storage_and_bus() -> None:
    stored = TradePoint(1500, FIRST.time_ms + 60_000)
    on_bus = TradePoint(1700, FIRST.time_ms + 90_000)  # published, not stored yet
    shift = demo_resume_shift(FIRST, (stored, on_bus))
    assert (FIRST.trade_id + shift.trade_ids, FIRST.time_ms + shift.time_ms) == (
        1701,
        FIRST.time_ms + 90_001,
    )


def test_demo_resume_shift_never_moves_before_the_recording() -> None:
    # Known trades below the capture (another series' older ids and times): keep the capture.
    assert demo_resume_shift(FIRST, (TradePoint(10, 5),)) == Shift(0, 0)


def test_demo_resume_shift_moves_ids_and_times_independently() -> None:
    # A live run stored higher ids at today's time; ids jump past them, times to after them.
    live = TradePoint(4_000_000_000, 1_796_000_000_000)
    shift = demo_resume_shift(FIRST, (live,))
    assert FIRST.trade_id + shift.trade_ids == 4_000_000_001
    assert FIRST.time_ms + shift.time_ms == 1_796_000_000_001


def test_demo_resumed_after_a_run_continues_its_ids_and_times_over_passes(
    demo_capture: list[tuple[RawMessage, Trade]],
) -> None:
    earlier = _adjusted(DemoSource(), demo_capture, 4)
    last = earlier[-1]
    source = DemoSource()
    assert source.capture_symbols == ("BTCUSDT",)
    source.resume_after({"BTCUSDT": (TradePoint(last.trade_id, last.trade_time_ms),)})

    resumed = [t for p in range(3) for t in _adjusted(source, demo_capture, p)]

    ids = [t.trade_id for t in resumed]
    assert ids == list(range(last.trade_id + 1, last.trade_id + 1 + len(ids)))
    assert resumed[0].trade_time_ms == last.trade_time_ms + 1
    times = [t.trade_time_ms for t in resumed]
    assert times == sorted(times)


def test_demo_resumed_with_nothing_known_is_the_plain_capture(
    demo_capture: list[tuple[RawMessage, Trade]],
) -> None:
    source = DemoSource()
    source.resume_after({})
    assert _adjusted(source, demo_capture, 0) == [trade for _, trade in demo_capture]


# --- source_from_settings ----------------------------------------------------------------


def test_source_from_settings_binance_gives_live_source_with_trade_streams() -> None:
    source = source_from_settings(
        "binance",
        base_url="wss://stream.binance.com:9443",
        symbols=("BTCUSDT",),
        speed=0.0,
        loop=False,
    )
    assert isinstance(source, BinanceLiveSource)
    assert source.base_url == "wss://stream.binance.com:9443"
    assert source.streams == ["btcusdt@trade"]
    assert source.symbols == ("BTCUSDT",)
    assert source.connected is False
    assert source.finished is False


def test_source_from_settings_binance_with_trailing_slash_base_has_single_slash() -> None:
    source = source_from_settings(
        "binance",
        base_url="ws://127.0.0.1:9999/",
        symbols=("BTCUSDT", "ETHUSDT"),
        speed=0.0,
        loop=False,
    )
    assert isinstance(source, BinanceLiveSource)
    assert source.base_url == "ws://127.0.0.1:9999"
    assert source.streams == ["btcusdt@trade", "ethusdt@trade"]


def test_source_from_settings_demo_gives_looping_demo_source() -> None:
    source = source_from_settings(
        "demo", base_url="unused", symbols=("BTCUSDT",), speed=0.0, loop=False
    )
    assert isinstance(source, DemoSource)
    assert source.loop is True
    assert source.speed == 1.0


def test_source_from_settings_replay_path_gives_replay_source_for_that_file() -> None:
    source = source_from_settings(
        f"replay:{SAMPLE_JSONL}", base_url="unused", symbols=("BTCUSDT",), speed=3.0, loop=True
    )
    assert type(source) is ReplaySource
    assert source.path == SAMPLE_JSONL
    assert source.speed == 3.0
    assert source.loop is True
    assert source.description == f"replay:{SAMPLE_JSONL}"


def test_source_from_settings_replay_missing_file_raises_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        source_from_settings(
            f"replay:{tmp_path / 'missing.jsonl'}",
            base_url="unused",
            symbols=("BTCUSDT",),
            speed=0.0,
            loop=False,
        )
