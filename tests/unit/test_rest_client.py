"""BinanceRest against the fake exchange's ASGI app, on an injected clock: the rate-limit
rules are checked in time the test controls, without sleeping."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from services.common.errors import InvalidArgument, Unavailable
from services.ingest.rest import BinanceRest
from tests.conftest import HFT_CAPTURE
from tests.fakes.binance_rest import FakeBinanceRest, trades_from_capture

START = 1_723_161_600.0  # on a minute boundary


class FakeClock:
    def __init__(self, now: float = START) -> None:
        self.now = now
        self.slept: list[float] = []

    def time(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


@pytest.fixture(scope="module")
def capture_trades() -> dict[str, list[dict[str, object]]]:
    return trades_from_capture(HFT_CAPTURE)


def _client(fake: FakeBinanceRest, clock: FakeClock, **options: float) -> BinanceRest:
    return BinanceRest(
        "http://binance.test",
        clock=clock,
        transport=httpx.ASGITransport(app=fake.app),
        **options,
    )


async def test_no_request_is_sent_before_a_429_retry_after_expires() -> None:
    clock = FakeClock()
    fake = FakeBinanceRest(clock=clock.time)
    fake.fail_next(429, retry_after_s=7)
    rest = _client(fake, clock)
    assert await rest.server_time() == int((START + 7) * 1000)
    assert [r.status for r in fake.requests] == [429, 200]
    assert fake.requests[1].at - fake.requests[0].at >= 7
    assert fake.early_requests == 0


async def test_a_418_ban_stops_every_request_until_it_ends() -> None:
    clock = FakeClock()
    fake = FakeBinanceRest(clock=clock.time)
    fake.fail_next(418, retry_after_s=120)
    rest = _client(fake, clock)
    await rest.ping()
    assert [r.status for r in fake.requests] == [418, 200]
    assert fake.requests[1].at >= START + 120
    assert fake.early_requests == 0


async def test_a_wait_longer_than_allowed_fails_in_one_line_without_sending() -> None:
    clock = FakeClock()
    fake = FakeBinanceRest(clock=clock.time)
    fake.fail_next(418, retry_after_s=3 * 86400)
    rest = _client(fake, clock, max_wait_s=300)
    with pytest.raises(Unavailable, match=r"refuses requests until .*Retry-After"):
        await rest.ping()
    with pytest.raises(Unavailable):
        await rest.ping()
    assert len(fake.requests) == 1 and clock.slept == []


async def test_requests_wait_for_the_next_minute_instead_of_passing_the_weight_limit(
    capture_trades: dict[str, list[dict[str, object]]],
) -> None:
    clock = FakeClock()
    # exchangeInfo (20) + two pages (25 each) fit in 70; a third page must wait.
    fake = FakeBinanceRest(trades=capture_trades, weight_limit=70, clock=clock.time)
    rest = _client(fake, clock)
    info = await rest.exchange_info(("BTCUSDT",))
    assert info.weight_limit_per_minute == 70 and rest.weight_limit == 70
    first = 3735683259
    for page in range(3):
        trades = await rest.historical_trades("BTCUSDT", first + page * 10, limit=10)
        assert [t["id"] for t in trades] == list(range(first + page * 10, first + page * 10 + 10))
    assert all(r.status == 200 for r in fake.requests)
    assert fake.requests[-1].at == START + 60
    assert fake.requests[-2].at == START


async def test_used_weight_header_from_other_clients_is_respected() -> None:
    clock = FakeClock()
    fake = FakeBinanceRest(weight_limit=30, clock=clock.time)
    fake._used[int(START // 60)] = 28  # another process on the same IP used most of it
    rest = _client(fake, clock)
    rest.weight_limit = 30
    await rest.ping()  # 29
    await rest.ping()  # 30: the header now says the minute is full
    await rest.ping()
    assert [r.status for r in fake.requests] == [200, 200, 200]
    assert fake.requests[-1].at == START + 60


async def test_exchange_info_reports_each_symbols_status() -> None:
    fake = FakeBinanceRest()
    rest = _client(fake, FakeClock())
    info = await rest.exchange_info(("BTCUSDT", "BNBBTC"))
    assert info.statuses == {"BTCUSDT": "TRADING", "BNBBTC": "BREAK"}


async def test_an_unknown_symbol_is_an_invalid_argument_naming_binances_reason() -> None:
    rest = _client(FakeBinanceRest(), FakeClock())
    with pytest.raises(InvalidArgument, match=r"Invalid symbol\. \(code -1121\)"):
        await rest.historical_trades("NOPEUSDT", 1)
    with pytest.raises(InvalidArgument, match="limit 5000"):
        await rest.historical_trades("BTCUSDT", 1, limit=5000)


async def test_an_unreachable_exchange_is_unavailable() -> None:
    rest = BinanceRest("http://127.0.0.1:9", clock=FakeClock())
    with pytest.raises(Unavailable, match=r"cannot reach Binance REST at http://127\.0\.0\.1:9"):
        await rest.ping()
    await rest.aclose()
