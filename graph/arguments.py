"""Checking resolver arguments: a bad one is a typed INVALID_ARGUMENT error naming it."""

from __future__ import annotations

from graph.errors import TypedError
from services.common import names
from services.common.errors import InvalidArgument
from services.common.symbols import parse_symbol


def symbol_argument(value: str) -> str:
    """The upper-case exchange symbol ``value`` names."""
    try:
        return parse_symbol(value)
    except InvalidArgument as error:
        raise TypedError(error.code, str(error)) from None


def venue_argument(value: str) -> str:
    """A venue QuantFlow knows: ``binance`` or ``binance_usdm``."""
    try:
        return names.check_venue(value)
    except ValueError as error:
        raise TypedError("INVALID_ARGUMENT", str(error)) from None


def kline_kind_argument(interval: str) -> str:
    """The bus kind of a Binance kline interval (``1m`` → ``kline_1m``)."""
    try:
        return names.kline_kind(interval)
    except ValueError as error:
        raise TypedError("INVALID_ARGUMENT", str(error)) from None
