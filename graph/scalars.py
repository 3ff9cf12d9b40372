"""Scalars GraphQL lacks: its ``Int`` is 32-bit, trade ids and epoch times are not."""

from __future__ import annotations

import re
from typing import NewType

import strawberry
from strawberry.types.scalar import ScalarDefinition


def _parse_int64(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError("Int64 takes an integer or a string of digits")
    if isinstance(value, str) and not re.fullmatch(r"-?[0-9]+", value):
        raise ValueError(f"Int64 takes a string of digits, not {value!r}")
    number = int(value)
    if not -(2**63) <= number < 2**63:
        raise ValueError("Int64 is out of the signed 64-bit range")
    return number


def _serialize_int64(value: int) -> str:
    # A JSON number loses precision above 2^53 in JavaScript (trade ids get there): a string
    # of digits reaches every client exactly.
    return str(int(value))


Int64 = NewType("Int64", int)

INT64 = strawberry.scalar(
    name="Int64",
    description="A signed 64-bit integer (trade ids, epoch milliseconds), sent as a string of "
    'digits such as "9007199254740993" so JavaScript keeps every digit; '
    "accepted as a string or an integer.",
    serialize=_serialize_int64,
    parse_value=_parse_int64,
)

# Pass to StrawberryConfig(scalar_map=...): how our NewTypes appear in the schema.
SCALAR_MAP: dict[object, ScalarDefinition] = {Int64: INT64}
