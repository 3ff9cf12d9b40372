"""Condition text → tokens, each with the column it starts at (1-based)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from services.common.conditions.errors import ConditionError


class Kind(Enum):
    NUMBER = "number"  # 2680, 2.5, -3
    PERCENT = "percent"  # -5% (value -0.05)
    DURATION = "duration"  # 15m (value in milliseconds)
    NAME = "name"  # price, rsi, crosses_above, and … (lower-cased)
    OPERATOR = "operator"  # < <= > >= == !=
    LPAREN = "("
    RPAREN = ")"
    COMMA = ","
    END = "end of condition"


@dataclass(frozen=True)
class Token:
    kind: Kind
    text: str  # as written (names lower-cased)
    column: int
    value: float = 0.0  # NUMBER, PERCENT (a ratio), DURATION (milliseconds)

    def describe(self) -> str:
        return "end of condition" if self.kind is Kind.END else repr(self.text)


DURATION_UNITS_MS = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}

_PATTERN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<number>-?(?:\d+(?:\.\d*)?|\.\d+))(?P<suffix>%|[smhd](?![A-Za-z0-9_]))?
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<operator><=|>=|==|!=|<|>)
  | (?P<punct>[(),])
    """,
    re.VERBOSE,
)
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Common spellings from other languages, answered with the word this one uses.
_FOREIGN = {"&&": "and", "&": "and", "||": "or", "|": "or", "!": "not", "=": "=="}


def tokenize(text: str) -> list[Token]:
    """Every token of ``text``, then an END token; :class:`ConditionError` at the first
    character that starts none."""
    tokens: list[Token] = []
    position = 0
    while position < len(text):
        match = _PATTERN.match(text, position)
        column = position + 1
        if match is None:
            foreign = next((f for f in _FOREIGN if text.startswith(f, position)), None)
            if foreign is not None:
                raise ConditionError(f"unexpected {foreign!r}, write {_FOREIGN[foreign]!r}", column)
            raise ConditionError(f"unexpected character {text[position]!r}", column)
        position = match.end()
        if match.group("space"):
            continue
        if match.group("number"):
            tail = _WORD.match(text, position)
            if tail is not None and not match.group("suffix"):
                word = match.group("number") + tail.group()
                raise ConditionError(
                    f"{word!r} is neither a number nor a duration (30s, 15m, 1h, 1d)", column
                )
            tokens.append(_number(match.group("number"), match.group("suffix"), column))
        elif match.group("name"):
            tokens.append(Token(Kind.NAME, match.group("name").lower(), column))
        elif match.group("operator"):
            tokens.append(Token(Kind.OPERATOR, match.group("operator"), column))
        else:
            punct = match.group("punct")
            kind = {"(": Kind.LPAREN, ")": Kind.RPAREN, ",": Kind.COMMA}[punct]
            tokens.append(Token(kind, punct, column))
    tokens.append(Token(Kind.END, "", len(text) + 1))
    return tokens


def _number(digits: str, suffix: str | None, column: int) -> Token:
    value = float(digits)
    if suffix == "%":
        return Token(Kind.PERCENT, digits + "%", column, value / 100.0)
    if suffix:
        if value <= 0 or not value.is_integer():
            raise ConditionError(
                f"duration {digits}{suffix} is not a whole positive number of {suffix}", column
            )
        return Token(Kind.DURATION, digits + suffix, column, value * DURATION_UNITS_MS[suffix])
    return Token(Kind.NUMBER, digits, column, value)
