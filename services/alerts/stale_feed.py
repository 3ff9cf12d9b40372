"""Stale-feed rules: ``no_trade(5m)`` — "tell me when no trade of SYMBOL has come for 5
minutes". Pure.

A user asks for it like any rule (symbol, condition ``no_trade(<duration>)``, no interval,
channels, ONCE or RECURRING); the alerts service's scheduler checks it every few seconds
rather than the evaluator at each trade, since what it watches for is the absence of trades.
It fires once per silence: ``duration`` after the last trade reached the evaluator (its
checkpoint, ``alert_feeds``; wall-clock time, so a replay of old trades is a live feed),
with that trade's price and id, keyed by that trade (``stale:<venue>:<trade id>``), so a
restarted scheduler cannot report one silence twice. A RECURRING rule fires again at the
next silence (after at least one new trade and its cooldown); a ONCE rule is then finished.
A symbol with no trade seen since the rule was created counts its silence from the rule's
creation (``stale:<venue>:none``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from services.common.errors import InvalidArgument

NAME = "no_trade"
MIN_MS = 10_000
MAX_MS = 7 * 86_400_000
_UNITS_MS = {"s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_FORM_RE = re.compile(r"\s*no_trade\s*\(\s*(\d{1,9})\s*([smhd])\s*\)\s*")


def is_stale_condition(text: str) -> bool:
    return text.lstrip().startswith(NAME)


def parse_stale_condition(text: str) -> int:
    """The silence in ms of ``no_trade(<duration>)``; INVALID_ARGUMENT naming the problem
    and its column otherwise."""
    found = _FORM_RE.fullmatch(text)
    column = len(text) - len(text.lstrip()) + 1
    if found is None:
        raise InvalidArgument(
            f"condition: {NAME} takes one duration and stands alone, e.g. {NAME}(5m) "
            f"at column {column}"
        )
    silence_ms = int(found.group(1)) * _UNITS_MS[found.group(2)]
    if not MIN_MS <= silence_ms <= MAX_MS:
        raise InvalidArgument(
            f"condition: {NAME}'s duration is 10s to 7d, not {found.group(1)}{found.group(2)} "
            f"at column {found.start(1) + 1}"
        )
    return silence_ms


@dataclass(frozen=True)
class LastTrade:
    trade_id: int
    price: str
    time_ms: int  # when it reached the evaluator


@dataclass(frozen=True)
class Silence:
    """A stale-feed firing: ``time_ms`` is when the feed became stale."""

    event_key: str
    time_ms: int
    price: str
    trade_id: int | None


def silence(
    venue: str,
    silence_ms: int,
    last: LastTrade | None,
    created_ms: int,
    last_fired_ms: int | None,
    cooldown_ms: int,
    now_ms: int,
) -> Silence | None:
    """The silence to report now, if any (already reported ones are the store's to skip)."""
    since = created_ms if last is None else max(last.time_ms, created_ms)
    stale_at = since + silence_ms
    if now_ms < stale_at:
        return None
    if last_fired_ms is not None and stale_at < last_fired_ms + cooldown_ms:
        return None
    if last is None:
        return Silence(f"stale:{venue}:none", stale_at, "0", None)
    return Silence(f"stale:{venue}:{last.trade_id}", stale_at, last.price, last.trade_id)
