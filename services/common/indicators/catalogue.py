"""Every indicator of the `ta` library by name, found by introspection, and specs that name
one with its parameters: ``rsi(14)``, ``macd(12,26,9)``, ``bbands(window=20, window_dev=2.5)``.

An indicator is a class of ``ta.momentum``, ``ta.trend``, ``ta.volatility``, ``ta.volume``
or ``ta.others``: its constructor's leading series parameters (``high``, ``low``, ``close``,
``volume``) are what it reads from the candles, the rest (bar ``fillna``, always off so the
warm-up stays null) are its parameters, and its public methods are its outputs, one series
each, named as the method (``macd``, ``macd_signal``, ``macd_diff``). Its name is the class
name in snake case without ``Indicator`` (``RSIIndicator`` → ``rsi``,
``BollingerBands`` → ``bollinger_bands``); short aliases (``bbands``, ``atr``, ``stoch``,
``obv`` …) name the same classes. Positional parameters follow the constructor, except
where the usual order differs: ``macd(fast, slow, signal)`` as everyone writes it.
"""

from __future__ import annotations

import inspect
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

import pandas as pd
import ta
from ta.utils import IndicatorMixin

_MODULES = (ta.momentum, ta.trend, ta.volatility, ta.volume, ta.others)
INPUTS = ("high", "low", "close", "volume")
# Numbers that scale or shift rather than count candles: any number, not a window length.
_FACTORS = frozenset({"window_dev", "multiplier", "weight1", "weight2", "weight3"})
_SHIFTS = frozenset({"offset"})

# alias → (class name, positional order when it is not the constructor's)
_ALIASES: dict[str, tuple[str, tuple[str, ...] | None]] = {
    "macd": ("MACD", ("window_fast", "window_slow", "window_sign")),
    "ppo": ("PercentagePriceOscillator", ("window_fast", "window_slow", "window_sign")),
    "pvo": ("PercentageVolumeOscillator", ("window_fast", "window_slow", "window_sign")),
    "bbands": ("BollingerBands", None),
    "bb": ("BollingerBands", None),
    "atr": ("AverageTrueRange", None),
    "stoch": ("StochasticOscillator", None),
    "stochrsi": ("StochRSIIndicator", None),
    "obv": ("OnBalanceVolumeIndicator", None),
    "ao": ("AwesomeOscillatorIndicator", None),
    "uo": ("UltimateOscillator", None),
    "willr": ("WilliamsRIndicator", None),
    "kc": ("KeltnerChannel", None),
    "dc": ("DonchianChannel", None),
    "ui": ("UlcerIndex", None),
    "adi": ("AccDistIndexIndicator", None),
    "cmf": ("ChaikinMoneyFlowIndicator", None),
    "eom": ("EaseOfMovementIndicator", None),
    "fi": ("ForceIndexIndicator", None),
    "nvi": ("NegativeVolumeIndexIndicator", None),
    "vpt": ("VolumePriceTrendIndicator", None),
    "vwap": ("VolumeWeightedAveragePrice", None),
    "vortex": ("VortexIndicator", None),
    "aroon": ("AroonIndicator", None),
    "mass": ("MassIndex", None),
    "ichimoku": ("IchimokuIndicator", None),
    "dr": ("DailyReturnIndicator", None),
    "dlr": ("DailyLogReturnIndicator", None),
    "cr": ("CumulativeReturnIndicator", None),
}


class BadSpec(ValueError):
    """An indicator spec that names no indicator, or gives it a bad parameter; the message
    names the spec and what is wrong."""


@dataclass(frozen=True)
class Parameter:
    name: str
    kind: type  # int, float or bool
    default: object  # inspect.Parameter.empty when required
    optional: bool = False  # None is allowed (and is the default)

    @property
    def required(self) -> bool:
        return self.default is inspect.Parameter.empty


@dataclass(frozen=True)
class Indicator:
    """One `ta` class: what it reads, its parameters, its outputs."""

    name: str
    cls: type
    inputs: tuple[str, ...]
    parameters: tuple[Parameter, ...]
    outputs: tuple[str, ...]
    positional: tuple[str, ...]

    def parameter(self, name: str) -> Parameter | None:
        return next((p for p in self.parameters if p.name == name), None)


@dataclass(frozen=True)
class Request:
    """A parsed spec: the indicator and every parameter's value."""

    spec: str
    indicator: Indicator
    arguments: Mapping[str, object]


def snake_name(class_name: str) -> str:
    """``RSIIndicator`` → ``rsi``; ``StochRSIIndicator`` → ``stoch_rsi``."""
    stem = class_name.removesuffix("Indicator") or class_name
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", stem).lower()


def _parameter(parameter: inspect.Parameter) -> Parameter:
    annotation = parameter.annotation
    optional = False
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        arguments = [a for a in typing.get_args(annotation) if a is not type(None)]
        optional, annotation = True, arguments[0]
    if annotation not in (int, float, bool):
        annotation = type(parameter.default)
    return Parameter(parameter.name, annotation, parameter.default, optional)


def _indicator(name: str, cls: type, order: tuple[str, ...] | None) -> Indicator:
    signature = list(inspect.signature(cls).parameters.values())
    inputs = tuple(p.name for p in signature if p.annotation is pd.Series)
    parameters = tuple(
        _parameter(p) for p in signature if p.annotation is not pd.Series and p.name != "fillna"
    )
    own = set(dir(IndicatorMixin))
    outputs = tuple(
        method
        for method, _ in inspect.getmembers(cls, inspect.isfunction)
        if not method.startswith("_") and method not in own
    )
    return Indicator(
        name, cls, inputs, parameters, outputs, order or tuple(p.name for p in parameters)
    )


@cache
def catalogue() -> dict[str, Indicator]:
    """Every indicator by name and alias."""
    classes = {
        cls.__name__: cls
        for module in _MODULES
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if issubclass(cls, IndicatorMixin)
        and cls is not IndicatorMixin
        and cls.__module__ == module.__name__
    }
    found = {
        snake_name(name): _indicator(snake_name(name), cls, None) for name, cls in classes.items()
    }
    for alias, (class_name, order) in _ALIASES.items():
        found[alias] = _indicator(alias, classes[class_name], order)
    return found


_SPEC = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\((.*)\))?\s*$", re.DOTALL)


def _value(spec: str, parameter: Parameter, text: str) -> object:
    text = text.strip()
    if parameter.optional and text.lower() == "none":
        return None
    if parameter.kind is bool:
        if text.lower() in ("true", "false"):
            return text.lower() == "true"
        raise BadSpec(f"{spec}: {parameter.name} takes true or false, not {text!r}")
    try:
        number = float(text)
    except ValueError:
        raise BadSpec(f"{spec}: {parameter.name} takes a number, not {text!r}") from None
    if parameter.name in _FACTORS or parameter.kind is float:
        if number != number or number in (float("inf"), float("-inf")):
            raise BadSpec(f"{spec}: {parameter.name} takes a finite number, not {text!r}")
        return number
    if not number.is_integer():
        raise BadSpec(f"{spec}: {parameter.name} takes a whole number, not {text!r}")
    if parameter.name not in _SHIFTS and number < 1:
        raise BadSpec(f"{spec}: {parameter.name} is a length of at least 1, not {text!r}")
    return int(number)


def parse(spec: str) -> Request:
    """The indicator a spec names, with every parameter's value (given or default)."""
    match = _SPEC.match(spec)
    if match is None:
        raise BadSpec(f"indicator spec {spec!r} is not name or name(parameters)")
    name, listed = match.group(1).lower(), match.group(2)
    indicator = catalogue().get(name)
    if indicator is None:
        raise BadSpec(f"unknown indicator {match.group(1)!r} in {spec!r}")
    given: dict[str, object] = {}
    items = [item for item in (listed or "").split(",")] if listed and listed.strip() else []
    for position, item in enumerate(items):
        key, equals, text = item.partition("=")
        if equals:
            parameter = indicator.parameter(key.strip())
            if parameter is None:
                known = ", ".join(p.name for p in indicator.parameters) or "none"
                raise BadSpec(f"{spec}: {name} has no parameter {key.strip()!r} (it has {known})")
        else:
            if position >= len(indicator.positional):
                raise BadSpec(
                    f"{spec}: {name} takes at most {len(indicator.positional)} parameters "
                    f"({', '.join(indicator.positional) or 'none'})"
                )
            parameter = indicator.parameter(indicator.positional[position])
            assert parameter is not None
            text = item
        if parameter.name in given:
            raise BadSpec(f"{spec}: {parameter.name} is given twice")
        given[parameter.name] = _value(spec, parameter, text)
    arguments: dict[str, object] = {}
    for parameter in indicator.parameters:
        if parameter.name in given:
            arguments[parameter.name] = given[parameter.name]
        elif parameter.required:
            raise BadSpec(f"{spec}: {name} needs {parameter.name}, e.g. {name}(20)")
        else:
            arguments[parameter.name] = parameter.default
    return Request(spec.strip(), indicator, arguments)
