"""Retention in ``timescaledb`` mode: TimescaleDB's own retention policies, which drop
whole chunks older than a length, set from the per-kind retention lengths.

Kinds are those of ``QUANTFLOW_RETENTION`` (``trade``, ``aggtrade``, ``kline_<interval>``;
a kind not named is kept forever). In this mode:

- ``trade`` and ``aggtrade`` expire with the ``trades`` and ``agg_trades`` hypertables;
- ``kline_1h`` and ``kline_1d`` are the continuous aggregates ``klines_1h`` and ``klines_1d``
  (built from 1m klines): each expires on its own, and outlives the 1m klines it came from;
- every other kline interval lives in the one ``klines`` hypertable, and chunks hold every
  interval, so that table keeps the longest of the lengths named for them (forever if one
  is forever): no interval is dropped sooner than asked, some may be kept longer;
- ``ticker`` history is not a hypertable: the storage service's own job expires it.

The continuous aggregates refresh the last :data:`REFRESH_WINDOW` of 1m klines
(timescale/0007_hypertables.sql); klines dropped inside that window would empty candles
already built, so a shorter kline length is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

import asyncpg

from services.common import names

REFRESH_WINDOW = timedelta(days=3)
# A day's margin beyond the refresh window: a chunk is dropped only once all of it is older.
SHORTEST_KLINES = REFRESH_WINDOW + timedelta(days=1)

TRADES = "trades"
AGG_TRADES = "agg_trades"
KLINES = "klines"
# The kline kinds served by a continuous aggregate, and its name.
CONTINUOUS_AGGREGATES = {"kline_1h": "klines_1h", "kline_1d": "klines_1d"}
RELATIONS = (TRADES, AGG_TRADES, KLINES, *CONTINUOUS_AGGREGATES.values())


def _longest(lengths: list[timedelta | None]) -> timedelta | None:
    return None if None in lengths else max(length for length in lengths if length is not None)


def drop_after(keep: Mapping[str, timedelta | None]) -> dict[str, timedelta | None]:
    """For every hypertable and continuous aggregate, how old its chunks get before they
    are dropped (None: never). ValueError naming the kind for a kline length too short for
    the continuous aggregates' refresh."""
    plan: dict[str, timedelta | None] = dict.fromkeys(RELATIONS)
    plan[TRADES] = keep.get(names.TRADE)
    plan[AGG_TRADES] = keep.get(names.AGGTRADE)
    raw_klines: list[timedelta | None] = []
    for kind, length in keep.items():
        if not kind.startswith(names.KLINE_PREFIX):
            continue
        if length is not None and length < SHORTEST_KLINES:
            raise ValueError(
                f"retention {kind}: {length} is too short; in TimescaleDB mode klines are kept at "
                f"least {SHORTEST_KLINES.days}d, since hourly and daily candles are refreshed "
                f"from the last {REFRESH_WINDOW.days}d of 1m klines"
            )
        if kind in CONTINUOUS_AGGREGATES:
            plan[CONTINUOUS_AGGREGATES[kind]] = length
        else:
            raw_klines.append(length)
    if raw_klines:
        plan[KLINES] = _longest(raw_klines)
    return plan


async def apply_retention_policies(
    conn: asyncpg.Connection, keep: Mapping[str, timedelta | None]
) -> dict[str, int]:
    """Make TimescaleDB's retention policies say what ``keep`` says (run at every start:
    a changed length replaces the policy, a removed one removes it); returns each policy's
    job id by the relation it expires."""
    jobs: dict[str, int] = {}
    async with conn.transaction():
        for relation, length in drop_after(keep).items():
            await conn.execute(
                "SELECT remove_retention_policy($1::regclass, if_exists => true)", relation
            )
            if length is not None:
                jobs[relation] = await conn.fetchval(
                    "SELECT add_retention_policy($1::regclass, drop_after => $2::interval)",
                    relation,
                    length,
                )
    return jobs
