"""The one reader of recorded Binance traffic: the replay source, the tests' fake Binance and
the benchmarks all read captures through it.

The layout is decided once, by the file's first non-empty line, and every line must follow it:

* ``jsonl``: one raw message per line, ``{...}``;
* ``hftbacktest``: ``<receive time, integer ns> <raw message>`` (hftbacktest's collector);
* ``cryptofeed``: ``<receive time, float seconds>: <raw message>`` (cryptofeed's raw capture).

Gzip is chosen by a ``.gz`` suffix. Times are converted with integer arithmetic only.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

JSONL = "jsonl"
HFTBACKTEST = "hftbacktest"
CRYPTOFEED = "cryptofeed"

_LAYOUT_HELP = (
    "expected one raw JSON message per line (.jsonl), hftbacktest's "
    "'<receive_ns> <json>' or cryptofeed's '<seconds.fraction>: <json>'"
)
_HFTBACKTEST_RE = re.compile(r"([0-9]+) (\{.*)", re.DOTALL)
_CRYPTOFEED_RE = re.compile(r"([0-9]+)(?:\.([0-9]{1,9})[0-9]*)?: (\{.*)", re.DOTALL)
_EVENT_TIME_RE = re.compile(r'"E"\s*:\s*([0-9]+)')


@dataclass(frozen=True, slots=True)
class Recorded:
    """One recorded message and when the recorder received it (None in ``jsonl``)."""

    text: str
    received_ns: int | None

    @property
    def clock_ns(self) -> int | None:
        """The time to pace a replay by: receive time, else Binance's event time ``E``."""
        if self.received_ns is not None:
            return self.received_ns
        match = _EVENT_TIME_RE.search(self.text)
        return int(match.group(1)) * 1_000_000 if match else None


def _open(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return path.open("r", encoding="utf-8")


def _layout_of(line: str) -> str | None:
    if line.startswith("{"):
        return JSONL
    if _HFTBACKTEST_RE.fullmatch(line):
        return HFTBACKTEST
    if _CRYPTOFEED_RE.fullmatch(line):
        return CRYPTOFEED
    return None


def detect_recording_layout(path: Path) -> str:
    """``jsonl``, ``hftbacktest`` or ``cryptofeed``; ValueError with one clear line for a
    file in no known layout (or unreadable as text), OSError if it cannot be opened."""
    try:
        with _open(path) as lines:
            for number, raw in enumerate(lines, start=1):
                line = raw.strip()
                if line:
                    layout = _layout_of(line)
                    if layout is None:
                        start = line[:40] + ("…" if len(line) > 40 else "")
                        raise ValueError(
                            f"recording {path}: line {number} ({start!r}) is in no known "
                            f"layout; {_LAYOUT_HELP}"
                        )
                    return layout
    except (UnicodeDecodeError, gzip.BadGzipFile, EOFError) as error:
        raise ValueError(
            f"recording {path} is not readable text ({error}); {_LAYOUT_HELP}"
        ) from None
    return JSONL  # empty: nothing to replay, which is not an error


def _split(layout: str, line: str) -> Recorded:
    """A line that breaks the layout is kept whole, so the parser dead-letters it as it is."""
    if layout == HFTBACKTEST:
        match = _HFTBACKTEST_RE.fullmatch(line)
        if match:
            return Recorded(match.group(2), int(match.group(1)))
    elif layout == CRYPTOFEED:
        match = _CRYPTOFEED_RE.fullmatch(line)
        if match:
            seconds, fraction, text = match.groups()
            return Recorded(text, int(seconds) * 10**9 + int((fraction or "").ljust(9, "0")))
    return Recorded(line, None)


def read_recording(path: Path) -> Iterator[Recorded]:
    """Every message of a recording, in order. The layout is checked up front
    (:func:`detect_recording_layout`); a later line that breaks it is yielded whole."""
    layout = detect_recording_layout(path)
    with _open(path) as lines:
        for raw in lines:
            line = raw.strip()
            if line:
                yield _split(layout, line)
