"""What a condition can compare: numbers, candle fields, indicators and trade measures.

Every name the language knows is in this module, with its parameters, what drives it and,
for an indicator, the ``spec`` and ``output`` it is computed as. Specs are the indicator
catalogue's (``rsi(14)``, ``macd(12,26,9)``, ``bbands(20,2)``); outputs are the names of the
`ta` library's methods (``macd_signal``, ``bollinger_hband``).

Adding an indicator is adding one row to ``INDICATORS``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum

from services.common.conditions.errors import ConditionError
from services.common.conditions.lexer import Kind, Token


class Driver(Enum):
    """What a condition is evaluated on."""

    TRADES = "trades"  # every trade of the symbol
    CANDLES = "candles"  # every closed candle of the rule's interval


@dataclass(frozen=True)
class Constant:
    value: float
    text: str
    column: int
    percent: bool = False  # written as 5%: value is the ratio 0.05

    driver = None


@dataclass(frozen=True)
class Field:
    """``price`` (the trade's price) or a candle's ``open``, ``high``, ``low``, ``close``,
    ``volume``."""

    name: str
    column: int

    @property
    def text(self) -> str:
        return self.name

    @property
    def driver(self) -> Driver:
        return Driver.TRADES if self.name == "price" else Driver.CANDLES


@dataclass(frozen=True)
class Indicator:
    """One output of one indicator over the candles, e.g. ``macd_signal(12,26,9)`` is output
    ``macd_signal`` of spec ``macd(12,26,9)``. NaN before ``warmup`` candles."""

    text: str
    spec: str
    output: str
    warmup: int
    column: int

    driver = Driver.CANDLES


@dataclass(frozen=True)
class Change:
    """``change(15m)``: the trade's price over the price of the last trade at least
    ``window_ms`` before it, minus 1 (a ratio: -5% is -0.05). Unknown until the stream holds a
    trade that old."""

    window_ms: int
    text: str
    column: int

    driver = Driver.TRADES


@dataclass(frozen=True)
class VolumeSpike:
    """``volume_spike(1m, 20)``: the quantity traded in the last ``window`` (the trade's own
    time t included: (t − w, t]) over the mean quantity per ``window`` of the ``count``
    windows before it ((t − (count+1)·w, t − w]). Unknown until the stream's first trade is
    at least (count+1)·w older than t, or when the windows before traded nothing."""

    window_ms: int
    count: int
    text: str
    column: int

    driver = Driver.TRADES


Operand = Constant | Field | Indicator | Change | VolumeSpike

FIELDS = ("price", "open", "high", "low", "close", "volume")


@dataclass(frozen=True)
class Parameter:
    name: str
    whole: bool  # a count of candles (whole, at least 1) or a factor (any positive number)
    default: float | None = None


@dataclass(frozen=True)
class IndicatorName:
    """One name the language accepts, e.g. ``macd_signal``: the spec name it is computed
    by, the output it reads, its parameters, and its warm-up from their values."""

    spec_name: str
    output: str
    parameters: tuple[Parameter, ...]
    warmup: Callable[[Sequence[float]], int]
    check: Callable[[Sequence[float]], str | None] = lambda values: None


_WINDOW = Parameter("window", whole=True)
_MACD = (
    Parameter("fast", whole=True, default=12),
    Parameter("slow", whole=True, default=26),
    Parameter("signal", whole=True, default=9),
)
_BBANDS = (Parameter("window", whole=True, default=20), Parameter("deviations", False, 2))


def _number_text(value: float) -> str:
    """12.0 → ``12``, 2.5 → ``2.5``: how a parameter is written in a spec."""
    return str(int(value)) if value.is_integer() else repr(value)


def _macd_order(values: Sequence[float]) -> str | None:
    fast, slow = _number_text(values[0]), _number_text(values[1])
    return (
        None if values[0] < values[1] else f"its fast window {fast} must be below its slow {slow}"
    )


def _first(values: Sequence[float]) -> int:
    """The first value of an n-candle window exists at candle n − 1 (0-based)."""
    return int(values[0]) - 1


def _macd_signal(values: Sequence[float]) -> int:
    return int(values[1]) + int(values[2]) - 2


INDICATORS: dict[str, IndicatorName] = {
    "rsi": IndicatorName("rsi", "rsi", (Parameter("window", True, 14),), _first),
    "sma": IndicatorName("sma", "sma_indicator", (_WINDOW,), _first),
    "ema": IndicatorName("ema", "ema_indicator", (_WINDOW,), _first),
    "atr": IndicatorName("atr", "average_true_range", (Parameter("window", True, 14),), _first),
    "macd": IndicatorName("macd", "macd", _MACD, lambda v: int(v[1]) - 1, _macd_order),
    "macd_signal": IndicatorName("macd", "macd_signal", _MACD, _macd_signal, _macd_order),
    "macd_diff": IndicatorName("macd", "macd_diff", _MACD, _macd_signal, _macd_order),
    "bbands_upper": IndicatorName("bbands", "bollinger_hband", _BBANDS, _first),
    "bbands_middle": IndicatorName("bbands", "bollinger_mavg", _BBANDS, _first),
    "bbands_lower": IndicatorName("bbands", "bollinger_lband", _BBANDS, _first),
}
TRADE_MEASURES = ("change", "volume_spike")
VOLUME_SPIKE_COUNT = 20


def resolve(name: Token, arguments: Sequence[Token] | None) -> Operand:
    """The operand ``name`` (with ``arguments`` when it was called: ``rsi(14)``; None for a
    bare ``rsi``) stands for; :class:`ConditionError` naming what is wrong and where."""
    word = name.text
    if word in FIELDS:
        if arguments is not None:
            raise ConditionError(f"{word} takes no parameters", name.column)
        return Field(word, name.column)
    if word == "change":
        return _change(name, arguments or [])
    if word == "volume_spike":
        return _volume_spike(name, arguments or [])
    known = INDICATORS.get(word)
    if known is None:
        raise ConditionError(_unknown(word, arguments is not None), name.column)
    return _indicator(word, known, name.column, arguments or [])


def _unknown(word: str, called: bool) -> str:
    if called:
        return f"unknown indicator {word!r} (known: {', '.join(sorted(INDICATORS))})"
    return f"unknown name {word!r} (known: {', '.join((*FIELDS, *sorted(INDICATORS)))})"


def _indicator(
    word: str, known: IndicatorName, column: int, arguments: Sequence[Token]
) -> Indicator:
    if len(arguments) > len(known.parameters):
        names = ", ".join(p.name for p in known.parameters)
        raise ConditionError(
            f"{word} takes at most {len(known.parameters)} parameters ({names}), "
            f"not {len(arguments)}",
            arguments[len(known.parameters)].column,
        )
    values: list[float] = []
    for index, parameter in enumerate(known.parameters):
        if index < len(arguments):
            values.append(_parameter_value(word, parameter, arguments[index]))
        elif parameter.default is not None:
            values.append(float(parameter.default))
        else:
            raise ConditionError(f"{word} needs its {parameter.name}, e.g. {word}(20)", column)
    problem = known.check(values)
    if problem is not None:
        raise ConditionError(f"{word}: {problem}", column)
    listed = ",".join(_number_text(value) for value in values)
    return Indicator(
        text=f"{word}({listed})",
        spec=f"{known.spec_name}({listed})",
        output=known.output,
        warmup=known.warmup(values),
        column=column,
    )


def _parameter_value(word: str, parameter: Parameter, token: Token) -> float:
    if token.kind is not Kind.NUMBER:
        raise ConditionError(
            f"{word}'s {parameter.name} is a number, not {token.text!r}", token.column
        )
    if parameter.whole and (not token.value.is_integer() or token.value < 1):
        raise ConditionError(
            f"{word}'s {parameter.name} is a whole number of candles of at least 1, "
            f"not {token.text}",
            token.column,
        )
    if not parameter.whole and not token.value > 0:
        raise ConditionError(
            f"{word}'s {parameter.name} is a positive number, not {token.text}", token.column
        )
    return token.value


def _duration(word: str, name: Token, arguments: Sequence[Token]) -> Token:
    if not arguments:
        raise ConditionError(f"{word} needs a time window, e.g. {word}(15m)", name.column)
    window = arguments[0]
    if window.kind is not Kind.DURATION:
        raise ConditionError(
            f"{word}'s window is a duration such as 30s, 15m, 1h or 1d, not {window.text!r}",
            window.column,
        )
    return window


def _change(name: Token, arguments: Sequence[Token]) -> Change:
    window = _duration("change", name, arguments)
    if len(arguments) > 1:
        raise ConditionError("change takes one parameter (its window)", arguments[1].column)
    return Change(int(window.value), f"change({window.text})", name.column)


def _volume_spike(name: Token, arguments: Sequence[Token]) -> VolumeSpike:
    window = _duration("volume_spike", name, arguments)
    if len(arguments) > 2:
        raise ConditionError(
            "volume_spike takes at most 2 parameters (window, count)", arguments[2].column
        )
    count = VOLUME_SPIKE_COUNT
    if len(arguments) == 2:
        given = arguments[1]
        if given.kind is not Kind.NUMBER or not given.value.is_integer() or given.value < 1:
            raise ConditionError(
                f"volume_spike's count is a whole number of windows of at least 1, "
                f"not {given.text!r}",
                given.column,
            )
        count = int(given.value)
    text = f"volume_spike({window.text},{count})"
    return VolumeSpike(int(window.value), count, text, name.column)
