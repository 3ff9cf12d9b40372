"""Tokens → tree, by recursive descent over this grammar (keywords in any case)::

    condition  := and_expr ("or" and_expr)*
    and_expr   := not_expr ("and" not_expr)*
    not_expr   := "not" not_expr | "(" condition ")" | comparison
    comparison := operand comparator operand
    comparator := "<" | "<=" | ">" | ">=" | "==" | "!=" | "crosses_above" | "crosses_below"
    operand    := number | percent | name | name "(" [argument ("," argument)*] ")"
    argument   := number | duration          (durations: 30s, 15m, 1h, 1d)

Operands are resolved against the vocabulary (``operands``) as they are read, so an unknown
name or a bad parameter is reported where it is written.
"""

from __future__ import annotations

from services.common.conditions.errors import ConditionError
from services.common.conditions.lexer import Kind, Token, tokenize
from services.common.conditions.nodes import And, Comparator, Compare, Node, Not, Or
from services.common.conditions.operands import Constant, Operand, resolve

MAX_LENGTH = 2_000
MAX_DEPTH = 32  # nested parentheses and nots: enough for people, bounded for the stack
_COMPARATORS = {comparator.value: comparator for comparator in Comparator}
_KEYWORDS = frozenset({"and", "or", "not"})


def parse_tree(text: str) -> Node:
    """The tree of ``text``; :class:`ConditionError` at the first thing that does not fit."""
    if len(text) > MAX_LENGTH:
        raise ConditionError(f"condition is longer than {MAX_LENGTH} characters", MAX_LENGTH + 1)
    if not text.strip():
        raise ConditionError("condition is empty", 1)
    return _Parser(tokenize(text)).condition()


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self._tokens = tokens
        self._at = 0
        self._depth = 0

    def condition(self) -> Node:
        node = self._or()
        token = self._peek()
        if token.kind is not Kind.END:
            if token.kind is Kind.RPAREN:
                raise ConditionError("unmatched ')'", token.column)
            raise ConditionError(
                f"expected 'and', 'or' or the end of the condition, found {token.describe()}",
                token.column,
            )
        return node

    def _or(self) -> Node:
        node = self._and()
        while self._keyword("or"):
            node = Or(node, self._and())
        return node

    def _and(self) -> Node:
        node = self._not()
        while self._keyword("and"):
            node = And(node, self._not())
        return node

    def _not(self) -> Node:
        token = self._peek()
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise ConditionError(f"condition nests deeper than {MAX_DEPTH} levels", token.column)
        try:
            if self._keyword("not"):
                return Not(self._not(), token.column)
            if token.kind is Kind.LPAREN:
                self._next()
                node = self._or()
                closing = self._peek()
                if closing.kind is not Kind.RPAREN:
                    raise ConditionError(
                        f"expected ')' to close the '(' at column {token.column}, "
                        f"found {closing.describe()}",
                        closing.column,
                    )
                self._next()
                return node
            return self._comparison()
        finally:
            self._depth -= 1

    def _comparison(self) -> Compare:
        left = self._operand()
        token = self._peek()
        comparator = (
            _COMPARATORS.get(token.text) if token.kind in (Kind.OPERATOR, Kind.NAME) else None
        )
        if comparator is None:
            raise ConditionError(
                f"expected a comparison (<, <=, >, >=, ==, !=, crosses_above, crosses_below) "
                f"after {left.text}, found {token.describe()}",
                token.column,
            )
        self._next()
        return Compare(comparator, left, self._operand(), token.column)

    def _operand(self) -> Operand:
        token = self._next()
        if token.kind in (Kind.NUMBER, Kind.PERCENT):
            return Constant(token.value, token.text, token.column, token.kind is Kind.PERCENT)
        if token.kind is Kind.NAME and token.text not in _KEYWORDS | _COMPARATORS.keys():
            if self._peek().kind is Kind.LPAREN:
                return resolve(token, self._arguments())
            return resolve(token, None)
        if token.kind is Kind.DURATION:
            raise ConditionError(
                f"a duration ({token.text}) is only a parameter, as in change({token.text})",
                token.column,
            )
        raise ConditionError(f"expected a value, found {token.describe()}", token.column)

    def _arguments(self) -> list[Token]:
        opening = self._next()
        arguments: list[Token] = []
        if self._peek().kind is Kind.RPAREN:
            self._next()
            return arguments
        while True:
            token = self._next()
            if token.kind not in (Kind.NUMBER, Kind.DURATION):
                raise ConditionError(
                    f"expected a number or a duration as a parameter, found {token.describe()}",
                    token.column,
                )
            arguments.append(token)
            separator = self._next()
            if separator.kind is Kind.RPAREN:
                return arguments
            if separator.kind is not Kind.COMMA:
                raise ConditionError(
                    f"expected ',' or ')' to close the '(' at column {opening.column}, "
                    f"found {separator.describe()}",
                    separator.column,
                )

    def _keyword(self, word: str) -> bool:
        token = self._peek()
        if token.kind is Kind.NAME and token.text == word:
            self._next()
            return True
        return False

    def _peek(self) -> Token:
        return self._tokens[self._at]

    def _next(self) -> Token:
        token = self._tokens[self._at]
        if token.kind is not Kind.END:
            self._at += 1
        return token
