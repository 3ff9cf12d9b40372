"""How long each stored kind is kept: parsing ``QUANTFLOW_RETENTION`` and checking it. Pure.

``QUANTFLOW_RETENTION="trade=7d,aggtrade=30d,kline_1m=365d"``: a kind, ``=``, and a length
in seconds, minutes, hours, days or weeks (``90s``, ``30m``, ``12h``, ``7d``, ``52w``) or
``forever``. Kinds: ``trade``, ``aggtrade`` (or ``aggTrade``), ``kline_<interval>`` and
``ticker`` (the 24-hour ticker history). A kind not named is kept forever. Rows are
expired by their exchange time (trade time, kline open time, ticker event time).

The rollup rule. Candles of an interval that is not stored are built, when asked, from a
finer stored kind (a finer kline interval that divides it, or trades). Naming such an
interval here says how far back its candles must stay available, so the kinds it is built
from must keep at least that much: **a kind named here that is not stored needs at least
one stored kind it can be built from that is kept at least as long**; otherwise the
setting is refused at start-up, naming both. (With ``kline_1h`` stored, ``kline_1m=365d``
and ``kline_1h=forever`` is fine: hourly candles are kept, not rebuilt.)
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from services.common import names
from services.common.intervals import kline_step_ms

FOREVER = "forever"
TICKER = names.TICKER
_UNITS = {
    "s": timedelta(seconds=1),
    "m": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
    "w": timedelta(weeks=1),
}
_LENGTH_RE = re.compile(r"([1-9][0-9]*)([smhdw])")
_DAY_MS = 86_400_000


def parse_kind(text: str) -> str:
    """The stored kind ``text`` names (``aggTrade`` → ``aggtrade``); ValueError naming it."""
    if text in (names.TRADE, TICKER):
        return text
    if text in ("aggTrade", names.AGGTRADE):
        return names.AGGTRADE
    if text.startswith(names.KLINE_PREFIX):
        names.kline_kind(text.removeprefix(names.KLINE_PREFIX))  # ValueError naming it
        return text
    raise ValueError(
        f"retention kind {text!r} is not one of trade, aggtrade, kline_<interval>, ticker"
    )


def parse_length(text: str, kind: str) -> timedelta | None:
    """``7d`` → 7 days; ``forever`` → None."""
    if text == FOREVER:
        return None
    match = _LENGTH_RE.fullmatch(text)
    if match is None:
        raise ValueError(
            f"retention of {kind}: {text!r} is not a length such as 90s, 30m, 12h, 7d, 52w "
            "or forever"
        )
    return int(match.group(1)) * _UNITS[match.group(2)]


def show_length(length: timedelta | None) -> str:
    if length is None:
        return FOREVER
    seconds = int(length.total_seconds())
    for unit, size in (("w", 604_800), ("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


@dataclass(frozen=True)
class RetentionPolicy:
    """How long each named kind is kept (``None``: forever); kinds not named are kept
    forever."""

    keep: Mapping[str, timedelta | None] = field(default_factory=dict)

    def length(self, kind: str) -> timedelta | None:
        return self.keep.get(kind)

    def expiring(self) -> dict[str, timedelta]:
        """The kinds that have a finite retention: what the scheduled job deletes."""
        return {kind: length for kind, length in self.keep.items() if length is not None}

    def __str__(self) -> str:
        return ",".join(f"{kind}={show_length(length)}" for kind, length in self.keep.items())


def parse_retention(text: str) -> RetentionPolicy:
    """``"trade=7d,kline_1m=365d"`` → a policy; ValueError naming the bad part."""
    keep: dict[str, timedelta | None] = {}
    for part in (p.strip() for p in text.replace(" ", ",").split(",")):
        if not part:
            continue
        kind_text, equals, length_text = part.partition("=")
        if not equals:
            raise ValueError(f"retention {part!r}: write kind=length, e.g. trade=7d")
        kind = parse_kind(kind_text.strip())
        if kind in keep:
            raise ValueError(f"retention names {kind} twice")
        keep[kind] = parse_length(length_text.strip(), kind)
    return RetentionPolicy(keep)


def _step_ms(kind: str) -> int | None:
    """A kline kind's candle length; None for 1M (calendar months)."""
    interval = kind.removeprefix(names.KLINE_PREFIX)
    return None if interval == "1M" else kline_step_ms(interval)


def builds(source: str, target: str) -> bool:
    """Whether candles of the kline kind ``target`` can be built from ``source``: from
    trades, or from a finer kline interval whose candles tile it exactly (1m → 1h, 1d →
    1w, 1h → 1M; not 3d → 1w)."""
    if not target.startswith(names.KLINE_PREFIX):
        return False
    if source == names.TRADE:
        return True
    if not source.startswith(names.KLINE_PREFIX) or source == target:
        return False
    source_ms, target_ms = _step_ms(source), _step_ms(target)
    if source_ms is None:
        return False
    if target_ms is None:  # months are whole days
        return _DAY_MS % source_ms == 0
    return target_ms > source_ms and target_ms % source_ms == 0


def _at_least(length: timedelta | None, wanted: timedelta | None) -> bool:
    if length is None:
        return True
    return wanted is not None and length >= wanted


def check_rollups(policy: RetentionPolicy, stored: Collection[str]) -> None:
    """Refuse (ValueError) a policy that deletes data a rollup still needs: see the rule in
    this module's docstring. ``stored``: the kinds that are stored (captured or present)."""
    for target, wanted in policy.keep.items():
        if target in stored or not target.startswith(names.KLINE_PREFIX):
            continue
        sources = sorted(s for s in stored if builds(s, target))
        if not sources or any(_at_least(policy.length(s), wanted) for s in sources):
            continue
        kept = ", ".join(f"{s} ({show_length(policy.length(s))})" for s in sources)
        raise ValueError(
            f"retention {target}={show_length(wanted)}: {target} is not stored, so its "
            f"candles are built from {kept}, which would be deleted sooner; keep one of "
            f"them at least {show_length(wanted)}, or store {target} itself"
        )
