"""The tree a condition parses to: comparisons of operands, combined by not/and/or."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from services.common.conditions.operands import Operand


class Comparator(Enum):
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="
    EQ = "=="
    NE = "!="
    CROSSES_ABOVE = "crosses_above"
    CROSSES_BELOW = "crosses_below"

    @property
    def crosses(self) -> bool:
        return self in (Comparator.CROSSES_ABOVE, Comparator.CROSSES_BELOW)


@dataclass(frozen=True)
class Compare:
    """``left comparator right``. ``a crosses_above b`` holds at a point where a > b whose
    previous point had a ≤ b; ``crosses_below``: a < b now, a ≥ b before."""

    comparator: Comparator
    left: Operand
    right: Operand
    column: int  # of the comparator


@dataclass(frozen=True)
class Not:
    operand: Node
    column: int


@dataclass(frozen=True)
class And:
    left: Node
    right: Node


@dataclass(frozen=True)
class Or:
    left: Node
    right: Node


Node = Compare | Not | And | Or


def comparisons(node: Node) -> list[Compare]:
    """Every comparison in ``node``, left to right."""
    if isinstance(node, Compare):
        return [node]
    if isinstance(node, Not):
        return comparisons(node.operand)
    return comparisons(node.left) + comparisons(node.right)
