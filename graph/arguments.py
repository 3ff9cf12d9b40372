"""Arguments every market query takes, checked once: a bad one is a typed
INVALID_ARGUMENT naming it."""

from __future__ import annotations

from graph.errors import TypedError
from services.common import names
from services.common.errors import InvalidArgument
from services.common.symbols import parse_symbol


def symbol_argument(value: str) -> str:
    try:
        return parse_symbol(value)
    except InvalidArgument as error:
        raise TypedError(error.code, str(error)) from None


def venue_argument(value: str) -> str:
    try:
        return names.check_venue(value)
    except ValueError as error:
        raise TypedError("INVALID_ARGUMENT", str(error)) from None
