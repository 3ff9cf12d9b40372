"""The symbols ingest is configured with, checked against Binance's exchangeInfo before it
connects (fake exchange WebSocket and REST on loopback, real JetStream)."""

from __future__ import annotations

import logging

import pytest

from services.common.errors import InvalidArgument
from services.ingest import service as ingest_service
from tests.fakes.binance_exchange_info import FakeExchangeInfo
from tests.fakes.binance_server import FakeBinanceServer
from tests.fakes.trade_tapes import trade_tape
from tests.integration.helpers import eventually, running, service_settings

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("symbols", "named"),
    [
        (("BTCUSDT", "NOPEUSDT"), "QUANTFLOW_SYMBOLS: unknown symbol on Binance: NOPEUSDT"),
        (("BNBBTC",), "QUANTFLOW_SYMBOLS: BNBBTC is not trading on Binance (status BREAK)"),
    ],
)
async def test_ingest_with_a_symbol_binance_does_not_trade_stops_before_connecting(
    database_url: str,
    nats_url: str,
    namespace: str,
    symbols: tuple[str, ...],
    named: str,
) -> None:
    async with FakeBinanceServer(trade_tape(("BTCUSDT",), 10)) as fake, FakeExchangeInfo() as rest:
        settings = service_settings(
            database_url,
            nats_url,
            namespace,
            binance_ws_url=fake.ws_url,
            binance_rest_url=rest.url,
            symbols=symbols,
            streams=("trade",),
        )
        with pytest.raises(InvalidArgument) as refused:
            async with running(ingest_service.run, settings, settings.ingest_grpc_port):
                pass
    assert str(refused.value) == named
    assert fake.connections_total == 0


async def test_ingest_that_cannot_reach_exchange_info_warns_and_captures_anyway(
    database_url: str, nats_url: str, namespace: str, caplog: pytest.LogCaptureFixture
) -> None:
    # service_settings points REST at a closed loopback port: exchangeInfo is unreachable.
    async with FakeBinanceServer(trade_tape(("BTCUSDT",), 10)) as fake:
        settings = service_settings(
            database_url,
            nats_url,
            namespace,
            binance_ws_url=fake.ws_url,
            symbols=("BTCUSDT",),
            streams=("trade",),
        )
        with caplog.at_level(logging.WARNING, "services.ingest.symbol_catalog"):
            async with running(ingest_service.run, settings, settings.ingest_grpc_port):
                await eventually(lambda: _holds(fake.connections_total >= 1))
    warned = [r.getMessage() for r in caplog.records if r.name == "services.ingest.symbol_catalog"]
    assert len(warned) == 1
    assert "could not check QUANTFLOW_SYMBOLS (BTCUSDT)" in warned[0]
    assert "cannot reach Binance REST" in warned[0]


async def test_ingest_with_trading_symbols_asks_exchange_info_once_and_connects(
    database_url: str, nats_url: str, namespace: str
) -> None:
    async with FakeBinanceServer(trade_tape(("BTCUSDT",), 10)) as fake, FakeExchangeInfo() as rest:
        settings = service_settings(
            database_url,
            nats_url,
            namespace,
            binance_ws_url=fake.ws_url,
            binance_rest_url=rest.url,
            symbols=("BTCUSDT", "ETHUSDT"),
            streams=("trade",),
        )
        async with running(ingest_service.run, settings, settings.ingest_grpc_port):
            await eventually(lambda: _holds(fake.connections_total >= 1))
    assert rest.requests == [["BTCUSDT", "ETHUSDT"]]


async def _holds(value: bool) -> bool:
    return value
