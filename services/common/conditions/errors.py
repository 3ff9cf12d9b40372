"""The one error the condition language raises: what is wrong, and where."""

from __future__ import annotations

from services.common.errors import InvalidArgument


class ConditionError(InvalidArgument):
    """A condition that cannot be evaluated: a syntax error, an unknown name, a bad parameter
    or a mix the language refuses. ``column`` is 1-based in the condition's text; the message
    names the problem and ends with ``at column N``.
    """

    def __init__(self, problem: str, column: int) -> None:
        super().__init__(f"{problem} at column {column}")
        self.problem = problem
        self.column = column
