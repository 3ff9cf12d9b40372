"""Unit tests for services/ingest/recordings.py: layouts, and refusing an unknown one."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from services.common.trades import Trade
from services.ingest.binance import parse_message
from services.ingest.recordings import (
    CRYPTOFEED,
    HFTBACKTEST,
    JSONL,
    Recorded,
    detect_recording_layout,
    read_recording,
)
from services.ingest.sources import ReplaySource, source_from_settings

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "binance"
TRADE = (
    '{"stream":"btcusdt@trade","data":{"e":"trade","E":1617566591315,"s":"BTCUSDT",'
    '"t":777,"p":"58001.03000000","q":"0.08620500","T":1617566591314,"m":true,"M":true}}'
)


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_bundled_captures_are_detected_in_their_layouts() -> None:
    assert (
        detect_recording_layout(FIXTURES / "binance_spot_btcusdt_2024-08-08.sample.jsonl") == JSONL
    )
    hft = FIXTURES / "binance_spot_btcusdt_2024-08-08.hftbacktest.gz"
    assert detect_recording_layout(hft) == HFTBACKTEST


def test_cryptofeed_capture_lines_give_the_message_and_its_receive_time_in_ns(
    tmp_path: Path,
) -> None:
    path = _write(tmp_path, "BINANCE.0", f"1617566591.123: {TRADE}\n\n1617566592: {TRADE}\n")
    assert detect_recording_layout(path) == CRYPTOFEED
    assert list(read_recording(path)) == [
        Recorded(TRADE, 1_617_566_591_123_000_000),
        Recorded(TRADE, 1_617_566_592_000_000_000),
    ]
    assert isinstance(parse_message(next(read_recording(path)).text), Trade)


def test_cryptofeed_time_with_more_than_nanosecond_digits_is_cut_not_rounded(
    tmp_path: Path,
) -> None:
    path = _write(tmp_path, "fine.0", f"1617566591.1234567899: {TRADE}\n")
    assert next(read_recording(path)).received_ns == 1_617_566_591_123_456_789


def test_gzipped_cryptofeed_capture_is_read_like_plain_text(tmp_path: Path) -> None:
    path = tmp_path / "capture.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write(f"1617566591.5: {TRADE}\n")
    assert list(read_recording(path)) == [Recorded(TRADE, 1_617_566_591_500_000_000)]


@pytest.mark.parametrize(
    "first_line",
    [
        f"1617566591,{TRADE}",  # a CSV-like stamp
        f"2021-04-04T19:23:11Z {TRADE}",  # a log line
        "1617566591.123 not json",
        "hello",
    ],
)
def test_unknown_layout_is_refused_with_one_line_naming_file_and_layouts(
    tmp_path: Path, first_line: str
) -> None:
    path = _write(tmp_path, "odd.txt", f"\n{first_line}\n{TRADE}\n")
    with pytest.raises(ValueError) as refused:
        detect_recording_layout(path)
    message = str(refused.value)
    assert "\n" not in message
    assert str(path) in message and "line 2" in message
    assert "jsonl" in message and "hftbacktest" in message and "cryptofeed" in message


def test_replay_source_of_unknown_layout_fails_before_replaying(tmp_path: Path) -> None:
    path = _write(tmp_path, "odd.txt", f"1617566591,{TRADE}\n")
    with pytest.raises(ValueError, match="no known layout"):
        ReplaySource(path)
    with pytest.raises(ValueError, match="no known layout"):
        source_from_settings(
            f"replay:{path}", base_url="", symbols=("BTCUSDT",), speed=0, loop=False
        )


def test_binary_file_is_refused_as_not_text(tmp_path: Path) -> None:
    path = tmp_path / "capture.jsonl"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ValueError, match="not readable text"):
        detect_recording_layout(path)


def test_line_breaking_the_layout_later_is_yielded_whole_for_the_parser_to_dead_letter(
    tmp_path: Path,
) -> None:
    path = _write(tmp_path, "mixed.txt", f"1723161253937085768 {TRADE}\ngarbage line\n")
    assert list(read_recording(path))[1] == Recorded("garbage line", None)
