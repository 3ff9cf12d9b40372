"""Backtest requests and results between their three forms: the pure dataclasses of
``run``, protobuf messages (gRPC) and JSON (the ``backtest_results`` table)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from google.protobuf import json_format, struct_pb2

from quantflow.backtest.v1 import backtest_service_pb2 as pb
from services.backtest import engine
from services.backtest.engine import Direction, Fill
from services.backtest.metrics import Metrics
from services.backtest.run import (
    BacktestRequest,
    BacktestResult,
    DataQuality,
    StrategyInfo,
    TradeRow,
)
from services.common import names

FILLS = {Fill.NEXT_OPEN: pb.FILL_NEXT_OPEN, Fill.CLOSE: pb.FILL_CLOSE}
_FILLS_BACK = {value: key for key, value in FILLS.items()}
DIRECTIONS = {
    Direction.LONG_ONLY: pb.DIRECTION_LONG_ONLY,
    Direction.LONG_SHORT: pb.DIRECTION_LONG_SHORT,
}
_DIRECTIONS_BACK = {value: key for key, value in DIRECTIONS.items()}
_OPTIONAL_METRICS = ("cagr", "sharpe", "sortino", "calmar", "profit_factor")


def _optional(message: Any, name: str) -> float | None:
    return float(getattr(message, name)) if message.HasField(name) else None


def params_from_struct(params: struct_pb2.Struct) -> dict[str, object]:
    return dict(json_format.MessageToDict(params))


def request_from_pb(given: pb.BacktestInput) -> BacktestRequest:
    """A request; InvalidArgument (from engine.Settings) names a bad setting."""
    defaults = engine.Settings()
    settings = engine.Settings(
        cash=given.cash if given.HasField("cash") else defaults.cash,
        fee_rate=given.fee_rate if given.HasField("fee_rate") else defaults.fee_rate,
        slippage_bps=(
            given.slippage_bps if given.HasField("slippage_bps") else defaults.slippage_bps
        ),
        fill=_FILLS_BACK.get(given.fill, Fill.NEXT_OPEN),
        direction=_DIRECTIONS_BACK.get(given.direction, Direction.LONG_ONLY),
        position_size=(
            given.position_size if given.HasField("position_size") else defaults.position_size
        ),
        stop_loss=_optional(given, "stop_loss"),
        take_profit=_optional(given, "take_profit"),
        trailing_stop=_optional(given, "trailing_stop"),
    )
    return BacktestRequest(
        symbol=given.symbol,
        venue=given.venue or names.VENUE_BINANCE,
        interval=given.interval,
        from_ms=given.from_ms,
        to_ms=given.to_ms,
        strategy=given.strategy,
        params=params_from_struct(given.params),
        settings=settings,
    )


def request_to_pb(
    request: BacktestRequest, params: Mapping[str, object] | None = None
) -> pb.BacktestInput:
    settings = request.settings
    message = pb.BacktestInput(
        symbol=request.symbol,
        venue=request.venue,
        interval=request.interval,
        from_ms=request.from_ms,
        to_ms=request.to_ms,
        strategy=request.strategy,
        cash=settings.cash,
        fee_rate=settings.fee_rate,
        slippage_bps=settings.slippage_bps,
        fill=FILLS[settings.fill],
        direction=DIRECTIONS[settings.direction],
        position_size=settings.position_size,
    )
    message.params.update(dict(request.params if params is None else params))
    for name in ("stop_loss", "take_profit", "trailing_stop"):
        value = getattr(settings, name)
        if value is not None:
            setattr(message, name, value)
    return message


def request_to_json(request: BacktestRequest) -> dict[str, object]:
    settings = request.settings
    return {
        "symbol": request.symbol,
        "venue": request.venue,
        "interval": request.interval,
        "from_ms": request.from_ms,
        "to_ms": request.to_ms,
        "strategy": request.strategy,
        "params": dict(request.params),
        "cash": settings.cash,
        "fee_rate": settings.fee_rate,
        "slippage_bps": settings.slippage_bps,
        "fill": settings.fill.value,
        "direction": settings.direction.value,
        "position_size": settings.position_size,
        "stop_loss": settings.stop_loss,
        "take_profit": settings.take_profit,
        "trailing_stop": settings.trailing_stop,
    }


def request_from_json(data: Mapping[str, Any]) -> BacktestRequest:
    return BacktestRequest(
        symbol=data["symbol"],
        venue=data["venue"],
        interval=data["interval"],
        from_ms=int(data["from_ms"]),
        to_ms=int(data["to_ms"]),
        strategy=data["strategy"],
        params=dict(data["params"]),
        settings=engine.Settings(
            cash=data["cash"],
            fee_rate=data["fee_rate"],
            slippage_bps=data["slippage_bps"],
            fill=Fill(data["fill"]),
            direction=Direction(data["direction"]),
            position_size=data["position_size"],
            stop_loss=data["stop_loss"],
            take_profit=data["take_profit"],
            trailing_stop=data["trailing_stop"],
        ),
    )


# --- results ---------------------------------------------------------------------------


def result_to_json(result: BacktestResult) -> dict[str, object]:
    return {
        "params": result.params,
        "fill": result.fill.value,
        "metrics": {k: _json_number(v) for k, v in result.metrics.as_dict().items()},
        "final_equity": result.final_equity,
        "equity_time": result.equity_time,
        "equity_value": result.equity_value,
        # Columns, not objects: a few thousand trades stay a small document.
        "trades": {
            name: [getattr(trade, name) for trade in result.trades]
            for name in TradeRow.__dataclass_fields__
        },
        "data_quality": {
            "bars": result.data_quality.bars,
            "holes": result.data_quality.holes,
            "source": result.data_quality.source,
        },
    }


def _json_number(value: float | int | None) -> float | int | None:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def result_from_json(data: Mapping[str, Any]) -> BacktestResult:
    columns = data["trades"]
    trade_fields = list(TradeRow.__dataclass_fields__)
    trades = [TradeRow(*row) for row in zip(*(columns[name] for name in trade_fields), strict=True)]
    return BacktestResult(
        params=dict(data["params"]),
        fill=Fill(data["fill"]),
        metrics=Metrics(**data["metrics"]),
        final_equity=float(data["final_equity"]),
        equity_time=list(data["equity_time"]),
        equity_value=list(data["equity_value"]),
        trades=trades,
        data_quality=DataQuality(**data["data_quality"]),
    )


def dumps(document: Mapping[str, object]) -> str:
    return json.dumps(document, separators=(",", ":"), allow_nan=False)


def metrics_to_pb(figures: Metrics, final_equity: float) -> pb.Metrics:
    values = figures.as_dict()
    message = pb.Metrics(
        **{k: v for k, v in values.items() if k not in _OPTIONAL_METRICS},
        final_equity=final_equity,
    )
    for name in _OPTIONAL_METRICS:
        value = values[name]
        if value is not None:
            setattr(message, name, value)
    return message


def result_to_pb(
    result: BacktestResult, result_id: str, request: BacktestRequest, created_ms: int
) -> pb.BacktestResult:
    trades = [
        pb.Trade(
            direction=t.direction,
            entry_time_ms=t.entry_time_ms,
            exit_time_ms=t.exit_time_ms,
            entry_price=t.entry_price,
            exit_price=t.exit_price,
            size=t.size,
            pnl=t.pnl,
            trade_return=t.trade_return,
            exit_reason=t.exit_reason,
        )
        for t in result.trades
    ]
    return pb.BacktestResult(
        id=result_id,
        input=request_to_pb(request, result.params),
        fill=FILLS[result.fill],
        metrics=metrics_to_pb(result.metrics, result.final_equity),
        equity_time=result.equity_time,
        equity_value=result.equity_value,
        trades=trades,
        data_quality=pb.DataQuality(
            bars=result.data_quality.bars,
            holes=result.data_quality.holes,
            source=result.data_quality.source,
        ),
        created_ms=created_ms,
    )


def strategy_to_pb(info: StrategyInfo) -> pb.Strategy:
    return pb.Strategy(
        name=info.name,
        description=info.description,
        params=[
            pb.StrategyParam(
                name=p.name,
                type=p.type,
                default_json=json.dumps(p.default),
                min=p.min,
                max=p.max,
                description=p.description,
            )
            for p in info.params
        ],
    )
