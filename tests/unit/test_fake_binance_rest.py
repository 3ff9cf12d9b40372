"""The fake REST exchange answers like Binance (spec §6-8), over the real captures."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import FIXTURES, HFT_CAPTURE
from tests.fakes.binance_rest import (
    FakeBinanceRest,
    agg_trades_from_capture,
    klines_from_csv,
    trades_from_capture,
)

AGG_CAPTURE = FIXTURES / "binance_spot_ws_2021-04-04_kline_aggtrade.jsonl"
KLINES_CSV = FIXTURES / "BTCUSDT-1h-2022-09-07.csv"


@pytest.fixture(scope="module")
def fake() -> FakeBinanceRest:
    return FakeBinanceRest(
        trades=trades_from_capture(HFT_CAPTURE),
        agg_trades=agg_trades_from_capture(AGG_CAPTURE),
        klines={("BTCUSDT", "1h"): klines_from_csv(KLINES_CSV)},
    )


async def _get(fake: FakeBinanceRest, path: str, **params: object) -> httpx.Response:
    transport = httpx.ASGITransport(app=fake.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://binance.test") as client:
        return await client.get(f"/api/v3/{path}", params=params)  # type: ignore[arg-type]


async def test_historical_trades_page_from_an_id_with_rest_field_names(
    fake: FakeBinanceRest,
) -> None:
    answer = await _get(fake, "historicalTrades", symbol="BTCUSDT", fromId=3735683259, limit=2)
    assert answer.status_code == 200
    first, second = answer.json()
    assert set(first) == {"id", "price", "qty", "quoteQty", "time", "isBuyerMaker", "isBestMatch"}
    assert (first["id"], second["id"]) == (3735683259, 3735683260)
    assert int(answer.headers["X-MBX-USED-WEIGHT-1M"]) >= 25
    recent = (await _get(fake, "trades", symbol="BTCUSDT", limit=1)).json()
    assert [t["id"] for t in recent] == [3735693015]


async def test_agg_trades_and_klines_are_the_real_data(fake: FakeBinanceRest) -> None:
    aggs = (await _get(fake, "aggTrades", symbol="DOTUSDT", limit=3)).json()
    assert len(aggs) == 3 and set(aggs[0]) == {"a", "p", "q", "f", "l", "T", "m", "M"}
    from_id = (await _get(fake, "aggTrades", symbol="DOTUSDT", fromId=aggs[1]["a"])).json()
    assert from_id[0] == aggs[1]
    klines = (
        await _get(fake, "klines", symbol="BTCUSDT", interval="1h", startTime=1662508800000)
    ).json()
    assert len(klines) == 24 and klines[0][:2] == [1662508800000, "18790.61000000"]
    assert len(klines[0]) == 12 and klines[0][6] == 1662512399999


async def test_errors_have_binances_codes(fake: FakeBinanceRest) -> None:
    unknown = await _get(fake, "historicalTrades", symbol="NOPEUSDT")
    assert (unknown.status_code, unknown.json()) == (400, {"code": -1121, "msg": "Invalid symbol."})
    bad = await _get(fake, "klines", symbol="BTCUSDT", interval="2m")
    assert bad.json()["code"] == -1120
    info = (await _get(fake, "exchangeInfo")).json()
    assert {s["symbol"]: s["status"] for s in info["symbols"]}["BNBBTC"] == "BREAK"


async def test_a_request_before_retry_after_is_banned_and_counted() -> None:
    now = [1000.0]
    fake = FakeBinanceRest(clock=lambda: now[0])
    fake.fail_next(429, retry_after_s=5)
    first = await _get(fake, "ping")
    assert (first.status_code, first.headers["Retry-After"]) == (429, "5")
    early = await _get(fake, "ping")
    assert early.status_code == 418 and fake.early_requests == 1
    now[0] += 60
    assert (await _get(fake, "ping")).status_code == 200
