"""Scalars GraphQL lacks: its ``Int`` is 32-bit, trade ids and epoch times are not."""

from __future__ import annotations

from typing import NewType

import strawberry


def _parse_int64(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError("Int64 takes an integer or a string of digits")
    number = int(value)
    if not -(2**63) <= number < 2**63:
        raise ValueError("Int64 is out of the signed 64-bit range")
    return number


Int64 = strawberry.scalar(
    NewType("Int64", int),
    name="Int64",
    description="A signed 64-bit integer (trade ids, epoch milliseconds).",
    serialize=int,
    parse_value=_parse_int64,
)
