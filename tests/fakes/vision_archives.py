"""data.binance.vision archive files for tests: the real kline files, and variants of them
(header row, microsecond times, ``.CHECKSUM``), plus trades and aggTrades files in the
archive layouts built from the real WebSocket captures (no real archive of those exists in
our data; see tests/fixtures/binance/vision/SOURCES.md)."""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tests.conftest import FIXTURES, HFT_CAPTURE
from tests.fakes.binance_rest import agg_trades_from_capture, trades_from_capture

VISION = FIXTURES / "vision"
AGG_CAPTURE = FIXTURES / "binance_spot_ws_2021-04-04_kline_aggtrade.jsonl"

# Every real kline file, with what it holds: (path, venue, symbol, interval, rows).
REAL_KLINES = (
    (VISION / "spot" / "ETHUSDT-1m-2022-08-14.zip", "binance", "ETHUSDT", "1m", 1440),
    (FIXTURES / "ETHUSDT-1m-2022-08-14.csv", "binance", "ETHUSDT", "1m", 1440),
    (FIXTURES / "BTCUSDT-1h-2022-09-07.csv", "binance", "BTCUSDT", "1h", 24),
    (VISION / "usdm" / "BTCUSDT-1m-2022-04-08.zip", "binance_usdm", "BTCUSDT", "1m", 1440),
    (VISION / "usdm" / "BTCUSDT-1m-2022-05-05.zip", "binance_usdm", "BTCUSDT", "1m", 1440),
    (VISION / "usdm" / "BTCUSDT-5m-2022-04.zip", "binance_usdm", "BTCUSDT", "5m", 8640),
)

# The header rows of USDⓈ-M futures files (spec §10).
KLINE_HEADER = (
    "open_time,open,high,low,close,volume,close_time,quote_volume,count,"
    "taker_buy_volume,taker_buy_quote_volume,ignore"
)
AGG_TRADE_HEADER = (
    "agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker"
)
TRADE_HEADER = "id,price,qty,quote_qty,time,is_buyer_maker"


def read_lines(path: Path) -> list[str]:
    """The text lines of a ``.csv`` or of the one ``.csv`` inside a ``.zip``, no newlines."""
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as archive:
            (member,) = archive.namelist()
            return archive.read(member).decode().splitlines()
    return path.read_text().splitlines()


def write_csv(path: Path, lines: Sequence[str], header: str | None = None) -> Path:
    rows = [header, *lines] if header else list(lines)
    path.write_text("".join(f"{line}\n" for line in rows))
    return path


def write_zip(path: Path, lines: Sequence[str], header: str | None = None) -> Path:
    """A data.binance.vision style zip: one ``<stem>.csv`` inside, and a ``.CHECKSUM``."""
    rows = [header, *lines] if header else list(lines)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(path.with_suffix(".csv").name, "".join(f"{r}\n" for r in rows))
    write_checksum(path)
    return path


def write_checksum(path: Path, digest: str | None = None) -> Path:
    """``sha256sum`` output for ``path`` beside it (or ``digest``, to make a wrong one)."""
    digest = digest or hashlib.sha256(path.read_bytes()).hexdigest()
    checksum = path.with_name(path.name + ".CHECKSUM")
    checksum.write_text(f"{digest}  {path.name}\n")
    return checksum


def kline_in_microseconds(line: str) -> str:
    """A kline row as spot files print it since 2025: open and close time in µs (the
    close time ends in 999999, as Binance's do)."""
    fields = line.split(",")
    fields[0] = str(int(fields[0]) * 1000)
    fields[6] = str(int(fields[6]) * 1000 + 999)
    return ",".join(fields)


def _spot_boolean(value: bool) -> str:
    return "True" if value else "False"


def _futures_boolean(value: bool) -> str:
    return "true" if value else "false"


def agg_trade_items(symbol: str = "BTCUSDT") -> list[dict[str, Any]]:
    """The real aggTrades of the 2021-04-04 capture, REST-shaped (``a p q f l T m M``)."""
    return agg_trades_from_capture(AGG_CAPTURE)[symbol]


def agg_trade_lines(items: Sequence[dict[str, Any]], venue: str) -> list[str]:
    """aggTrades rows in the archive layout of ``venue`` (spot: 8 columns with best match
    and True/False; futures: 7, true/false)."""
    lines = []
    for item in items:
        fields = [item[key] for key in ("a", "p", "q", "f", "l", "T")]
        if venue == "binance":
            fields += [_spot_boolean(item["m"]), _spot_boolean(item["M"])]
        else:
            fields.append(_futures_boolean(item["m"]))
        lines.append(",".join(str(f) for f in fields))
    return lines


def trade_items(symbol: str = "BTCUSDT") -> list[dict[str, Any]]:
    """The real trades of the 2024-08-08 capture, REST-shaped (with ``quoteQty``)."""
    return trades_from_capture(HFT_CAPTURE)[symbol]


def trade_lines(items: Sequence[dict[str, Any]], venue: str) -> list[str]:
    """trades rows in the archive layout of ``venue`` (spot: 7 columns, futures: 6)."""
    lines = []
    for item in items:
        fields = [item[key] for key in ("id", "price", "qty", "quoteQty", "time")]
        if venue == "binance":
            fields += [_spot_boolean(item["isBuyerMaker"]), _spot_boolean(item["isBestMatch"])]
        else:
            fields.append(_futures_boolean(item["isBuyerMaker"]))
        lines.append(",".join(str(f) for f in fields))
    return lines
