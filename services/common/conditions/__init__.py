"""The condition language of declarative strategies and alert rules: ``rsi(14) < 30``,
``close crosses_above sma(50)``, ``price crosses_above 2680``, ``change(15m) < -5%``,
combined with ``and``, ``or``, ``not`` and parentheses.

Pure (numpy only; the default indicator implementation imports `ta` when first used).
``parse_condition`` checks a text and says what drives it, which indicators it needs and its
warm-up; ``evaluate_candles`` / ``evaluate_trades`` evaluate it over whole series;
``CandleStream`` / ``TradeStream`` one event at a time, with the same result.
"""

from services.common.conditions.checker import Condition, parse_condition
from services.common.conditions.errors import ConditionError
from services.common.conditions.indicators import Candles, Compute, Precomputed
from services.common.conditions.operands import Driver
from services.common.conditions.streaming import CandleStream, TradeStream
from services.common.conditions.vectorised import evaluate_candles, evaluate_trades

__all__ = [
    "CandleStream",
    "Candles",
    "Compute",
    "Condition",
    "ConditionError",
    "Driver",
    "Precomputed",
    "TradeStream",
    "evaluate_candles",
    "evaluate_trades",
    "parse_condition",
]
