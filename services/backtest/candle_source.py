"""A backtest's candles, read from StorageService.GetOhlc (streamed columnar chunks)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import grpc

from quantflow.storage.v1 import storage_service_pb2 as storage_pb
from quantflow.storage.v1 import storage_service_pb2_grpc
from services.backtest.bars import Bars
from services.backtest.run import BacktestRequest, bars_from_columns
from services.common.errors import InvalidArgument, NotFound, Unavailable

# Called with the candles received so far, after each chunk.
Progress = Callable[[int], None]

_FETCH_TIMEOUT_S = 300.0


def describe_range(request: BacktestRequest) -> str:
    """``BTCUSDT 1m [2024-01-01T00:00:00Z, 2024-01-02T00:00:00Z)`` (venue when not spot)."""
    venue = "" if request.venue == "binance" else f" on {request.venue}"
    return (
        f"{request.symbol} {request.interval}{venue} "
        f"[{_iso(request.from_ms)}, {_iso(request.to_ms)})"
    )


def _iso(epoch_ms: int) -> str:
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


async def fetch_bars(
    storage: storage_service_pb2_grpc.StorageServiceStub,
    request: BacktestRequest,
    progress: Progress | None = None,
) -> tuple[Bars, str]:
    """The request's candles and what storage built them from; NotFound naming symbol,
    interval and range when none is stored there."""
    query = storage_pb.GetOhlcRequest(
        symbol=request.symbol,
        venue=request.venue,
        interval=request.interval,
        from_ms=request.from_ms,
        to_ms=request.to_ms,
    )
    time: list[int] = []
    columns: dict[str, list[str]] = {
        name: [] for name in ("open", "high", "low", "close", "volume")
    }
    source = ""
    try:
        async for chunk in storage.GetOhlc(query, timeout=_FETCH_TIMEOUT_S):
            source = chunk.source
            time.extend(chunk.open_time)
            for name, column in columns.items():
                column.extend(getattr(chunk, name))
            if progress is not None:
                progress(len(time))
    except grpc.aio.AioRpcError as error:
        raise _translated(error) from None
    if not time:
        raise NotFound(f"no candles stored for {describe_range(request)}")
    bars = bars_from_columns(
        time,
        columns["open"],
        columns["high"],
        columns["low"],
        columns["close"],
        columns["volume"],
        request.interval,
    )
    return bars, source


def _translated(error: grpc.aio.AioRpcError) -> Exception:
    details = error.details() or error.code().name
    if error.code() == grpc.StatusCode.INVALID_ARGUMENT:
        return InvalidArgument(details)
    if error.code() == grpc.StatusCode.NOT_FOUND:
        return NotFound(details)
    return Unavailable(f"storage could not answer GetOhlc: {details}")
