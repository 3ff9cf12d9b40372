"""Real klines and trades for the condition tests, read from tests/fixtures/binance/."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from services.common.conditions import Candles
from services.ingest.recordings import read_recording

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "binance"
ETH_1M = FIXTURES / "ETHUSDT-1m-2022-08-14.csv"
BTC_USDM_1M = FIXTURES / "vision" / "usdm" / "BTCUSDT-1m-2022-04-08.csv"
HFT_CAPTURE = FIXTURES / "binance_spot_btcusdt_2024-08-08.hftbacktest.gz"


def read_klines(path: Path) -> Candles:
    """open, high, low, close, volume of a data.binance.vision kline CSV (no header)."""
    with path.open() as file:
        rows = list(csv.reader(file))
    columns = np.array([[float(value) for value in row[1:6]] for row in rows]).T
    return dict(zip(("open", "high", "low", "close", "volume"), columns, strict=True))


@dataclass(frozen=True)
class Trades:
    time_ms: npt.NDArray[np.int64]
    price: npt.NDArray[np.float64]
    qty: npt.NDArray[np.float64]


def read_trades(path: Path = HFT_CAPTURE) -> Trades:
    """The trades of a capture in the order Binance sent them (trade time ``T``)."""
    rows = []
    for recorded in read_recording(path):
        message = json.loads(recorded.text)
        if message.get("stream", "").endswith("@trade"):
            data = message["data"]
            rows.append((data["T"], float(data["p"]), float(data["q"])))
    times, prices, quantities = zip(*rows, strict=True)
    return Trades(np.array(times, np.int64), np.array(prices), np.array(quantities))
