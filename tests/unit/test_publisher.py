"""Unit tests for services/ingest/publisher.py's pure parts: which publish errors are
retried, and how unconfirmed trades are named in the stop log."""

from __future__ import annotations

import pytest
from nats.errors import (
    BadSubjectError,
    ConnectionClosedError,
    MaxPayloadError,
    NoRespondersError,
    OutboundBufferLimitError,
)
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.errors import (
    APIError,
    BadRequestError,
    NoStreamResponseError,
    ServerError,
    ServiceUnavailableError,
)

from services.common.trades import Trade
from services.ingest.publisher import describe_ids, is_permanent


def trade(trade_id: int, symbol: str = "BTCUSDT") -> Trade:
    return Trade("binance", symbol, trade_id, "1", "1", trade_id, trade_id, False)


@pytest.mark.parametrize(
    "error",
    [
        MaxPayloadError(),
        BadSubjectError(),
        BadRequestError(code=400, err_code=10054, description="message size exceeds maximum"),
        APIError(code=409, description="wrong last sequence"),
    ],
)
def test_is_permanent_for_errors_every_retry_would_meet_again(error: Exception) -> None:
    assert is_permanent(error)


@pytest.mark.parametrize(
    "error",
    [
        TimeoutError(),
        NatsTimeoutError(),
        NoRespondersError(),
        NoStreamResponseError(),
        ConnectionClosedError(),
        OutboundBufferLimitError(),
        ServiceUnavailableError(code=503),
        ServerError(code=500),
        APIError(),  # no code: nothing says it is this message's fault
    ],
)
def test_is_not_permanent_for_errors_a_later_retry_may_pass(error: Exception) -> None:
    assert not is_permanent(error)


def test_describe_ids_joins_consecutive_ids_into_runs_per_symbol() -> None:
    trades = [trade(i) for i in (103, 101, 102, 107, 109, 110)]
    trades.append(trade(7, symbol="ETHUSDT"))
    assert describe_ids(trades) == "binance:BTCUSDT 101-103, 107, 109-110; binance:ETHUSDT 7"


def test_describe_ids_of_nothing_is_empty() -> None:
    assert describe_ids([]) == ""
