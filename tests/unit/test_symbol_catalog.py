"""services/ingest/symbol_catalog.py over the REST client (services/ingest/rest.py), against
a local HTTP server that answers exchangeInfo as Binance does."""

from __future__ import annotations

import pytest

from services.common.embedded import free_port
from services.common.errors import InvalidArgument, Unavailable
from services.ingest.market_subscriptions import describe_stream, stream_request
from services.ingest.rest import BinanceRest
from services.ingest.symbol_catalog import ExchangeSymbolCatalog
from tests.fakes.binance_exchange_info import FakeExchangeInfo


async def test_trading_symbols_pass_with_one_request() -> None:
    async with FakeExchangeInfo() as rest:
        await ExchangeSymbolCatalog(BinanceRest(rest.url)).check(["BTCUSDT", "ETHUSDT"])
    assert rest.requests == [["BTCUSDT", "ETHUSDT"]]


async def test_unknown_symbols_are_named_though_binance_does_not_name_them() -> None:
    async with FakeExchangeInfo() as rest:
        catalog = ExchangeSymbolCatalog(BinanceRest(rest.url))
        with pytest.raises(
            InvalidArgument, match=r"^unknown symbols on Binance: FOOUSDT, BARUSDT$"
        ):
            await catalog.check(["BTCUSDT", "FOOUSDT", "BARUSDT"])


async def test_a_symbol_not_trading_is_refused_with_its_status() -> None:
    async with FakeExchangeInfo({"BTCUSDT": "TRADING", "LUNAUSDT": "HALT"}) as rest:
        catalog = ExchangeSymbolCatalog(BinanceRest(rest.url))
        with pytest.raises(
            InvalidArgument, match=r"LUNAUSDT is not trading on Binance \(status HALT\)"
        ):
            await catalog.check(["BTCUSDT", "LUNAUSDT"])


async def test_unreachable_rest_is_unavailable_naming_the_url() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(Unavailable, match=f"cannot reach Binance REST at {url}"):
        await ExchangeSymbolCatalog(BinanceRest(url, timeout_s=2)).check(["BTCUSDT"])


def test_stream_request_names_every_symbol_and_kind_as_binance_does() -> None:
    request = stream_request([" btcusdt", "ETHUSDT", "BTCUSDT"], ["trade", "kline_1m"])
    assert request.symbols == ("BTCUSDT", "ETHUSDT")
    assert request.stream_names == (
        "btcusdt@trade",
        "btcusdt@kline_1m",
        "ethusdt@trade",
        "ethusdt@kline_1m",
    )
    assert describe_stream("ethusdt@kline_1m") == ("ETHUSDT", "kline_1m")


@pytest.mark.parametrize(
    ("symbols", "streams", "message"),
    [
        ([], ["trade"], "at least one symbol"),
        (["BTCUSDT"], [], "at least one stream"),
        (["BTCUSDT"], ["kline_7m"], "unknown stream 'kline_7m'"),
    ],
)
def test_stream_request_refuses_empty_or_unknown_parts(
    symbols: list[str], streams: list[str], message: str
) -> None:
    with pytest.raises(InvalidArgument, match=message):
        stream_request(symbols, streams)
