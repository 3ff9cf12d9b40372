"""The decimal rules every price and quantity meets, on both sides of the bus: the quick
string-method check agrees with the rule written as a regular expression."""

from __future__ import annotations

import random
import re

import pytest

from services.common.trades import (
    MAX_FRACTION_DIGITS,
    MAX_INTEGER_DIGITS,
    check_decimal,
)

# The rule as it reads: 1–20 digits, optionally a point and 1–18 digits, not all zeros.
RULE = re.compile(
    rf"[0-9]{{1,{MAX_INTEGER_DIGITS}}}(?:\.[0-9]{{1,{MAX_FRACTION_DIGITS}}})?", re.ASCII
)


def _accepted(text: str) -> bool:
    try:
        check_decimal(text)
    except ValueError:
        return False
    return True


def _by_rule(text: str) -> bool:
    return bool(RULE.fullmatch(text)) and bool(text.strip("0."))


@pytest.mark.parametrize(
    "text",
    [
        "61837.63000000", "1", "0.00000001", "00.10", "9" * 20, "1." + "0" * 17 + "1",
        "0", "0.0", "000.000", "1.", ".5", "-1", "+1", "1e5", "1_000", " 1", "1 ", "",
        ".", "1.2.3", "NaN", "inf", "²", "١٢", "1٫5", "9" * 21, "1." + "0" * 18 + "1",
    ],
)  # fmt: skip
def test_a_listed_value_is_accepted_exactly_when_the_rule_says(text: str) -> None:
    assert _accepted(text) == _by_rule(text)


def test_random_strings_are_accepted_exactly_when_the_rule_says() -> None:
    rng = random.Random(20261201)
    alphabet = "0123456789.-+e _²١"
    for _ in range(20_000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 24)))
        assert _accepted(text) == _by_rule(text), text
