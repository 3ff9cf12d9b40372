"""The ``Symbol`` entity: one market (symbol on a venue) and everything QuantFlow knows of it,
keyed for Apollo Federation 2 (``@key(fields: "name venue")``).

Its fields are the schema's own resolvers (``ohlc``, ``indicators``, ``coverage``,
``history``) with the symbol filled in, so ``symbol(name: "BTCUSDT") { latest { price } ohlc(…)
{ close } coverage(kind: "trade") { holes { from to } } }`` answers in one request, and a
federation router that holds a ``Symbol`` reference (from another subgraph) resolves the same
fields through ``_entities``. ``latest`` goes through a DataLoader: many symbols, one
``ListLatestPrices`` a venue.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Final

import strawberry
from strawberry.types import Info
from strawberry.types.nodes import SelectedField

from graph.alerts import AlertRule, rule_from_pb
from graph.arguments import symbol_argument, venue_argument
from graph.backtest import BacktestResult, result_from_pb
from graph.candles import IndicatorSeries, OhlcSeries
from graph.candles import indicators as indicators_of
from graph.candles import ohlc as ohlc_of
from graph.context import Context
from graph.coverage import Coverage
from graph.coverage import coverage as coverage_of
from graph.errors import TypedError
from graph.history import TradeConnection
from graph.history import history as history_of
from graph.loaders import alert_rules_loader, backtests_loader, latest_price_loader
from services.common import names

if TYPE_CHECKING:
    from graph.schema import Price

FEDERATION_VERSION: Final = "2.11"
# As BacktestService.ListBacktests allows.
MAX_LATEST_BACKTESTS = 100
# The BacktestResult fields read from a result's equity curve or trades.
_SERIES_FIELDS = frozenset({"equity", "tradeList"})


@strawberry.federation.type(
    keys=["name venue"],
    description="One market: a symbol on a venue, with its latest price, candles, "
    "indicators, stored trades, coverage, backtests and alert rules.",
)
class Symbol:
    name: str = strawberry.field(description='The exchange symbol, upper case: "BTCUSDT".')
    venue: str = strawberry.field(
        description='"binance" (spot) or "binance_usdm" (USDⓈ-M futures).'
    )

    @classmethod
    def resolve_reference(cls, name: str, venue: str = names.VENUE_BINANCE) -> Symbol:
        """A reference from the router: the key checked like an argument (a bad one is an
        INVALID_ARGUMENT error for that entity only)."""
        return cls(name=symbol_argument(name), venue=venue_argument(venue))

    @strawberry.field(description="The latest stored trade; null when none is stored.")
    async def latest(
        self, info: Info[Context, None]
    ) -> Annotated[Price, strawberry.lazy("graph.schema")] | None:
        from graph.schema import Price

        found = await latest_price_loader(info).load((self.name, self.venue))
        return None if found is None else Price.from_pb(found)

    @strawberry.field(description="Candles of this symbol; see `Query.ohlc`.")
    async def ohlc(
        self,
        info: Info[Context, None],
        interval: str,
        from_: Annotated[datetime, strawberry.argument(name="from")],
        to: datetime,
    ) -> OhlcSeries | None:
        return await ohlc_of(info, self.name, interval, from_, to, self.venue)

    @strawberry.field(description="Indicators over this symbol's candles; see `Query.indicators`.")
    async def indicators(
        self,
        info: Info[Context, None],
        interval: str,
        from_: Annotated[datetime, strawberry.argument(name="from")],
        to: datetime,
        specs: list[str],
    ) -> IndicatorSeries | None:
        return await indicators_of(info, self.name, interval, from_, to, specs, self.venue)

    @strawberry.field(
        description="What is stored of one series and its holes; see `Query.coverage`."
    )
    async def coverage(
        self,
        info: Info[Context, None],
        kind: Annotated[
            str, strawberry.argument(description="trade, aggTrade or kline_<interval>.")
        ],
        from_: Annotated[
            datetime | None, strawberry.argument(name="from", description="Inclusive.")
        ] = None,
        to: Annotated[datetime | None, strawberry.argument(description="Exclusive.")] = None,
    ) -> Coverage | None:
        return await coverage_of(info, self.name, kind, from_, to, self.venue)

    @strawberry.field(description="Stored trades, a page at a time; see `Query.history`.")
    async def history(
        self,
        info: Info[Context, None],
        from_: Annotated[
            datetime | None, strawberry.argument(name="from", description="Inclusive.")
        ] = None,
        to: Annotated[datetime | None, strawberry.argument(description="Exclusive.")] = None,
        first: int | None = None,
        after: str | None = None,
    ) -> TradeConnection | None:
        return await history_of(info, self.name, from_, to, first, after, self.venue)

    @strawberry.field(
        description=f"The latest stored backtest results of this market, newest first "
        f"(1 to {MAX_LATEST_BACKTESTS})."
    )
    async def backtests(self, info: Info[Context, None], last: int = 5) -> list[BacktestResult]:
        if not 1 <= last <= MAX_LATEST_BACKTESTS:
            raise TypedError("INVALID_ARGUMENT", f"last {last}: give 1 to {MAX_LATEST_BACKTESTS}")
        # Equity curves and trades are fetched only when the query reads them.
        summary = _reads_no_series(info)
        found = await backtests_loader(info).load((self.name, self.venue, last, summary))
        return [result_from_pb(result) for result in found]

    @strawberry.field(description="The alert rules on this market.")
    async def alert_rules(self, info: Info[Context, None]) -> list[AlertRule]:
        found = await alert_rules_loader(info).load((self.name, self.venue))
        return [rule_from_pb(rule) for rule in found]


def _reads_no_series(info: Info[Context, None]) -> bool:
    """Whether the query reads no equity curve or trades of the results (a fragment counts as
    reading them: it is not looked into)."""
    for field in info.selected_fields:
        for selection in field.selections:
            if not isinstance(selection, SelectedField) or selection.name in _SERIES_FIELDS:
                return False
    return True


def symbol(info: Info[Context, None], name: str, venue: str = names.VENUE_BINANCE) -> Symbol:
    return Symbol.resolve_reference(name, venue)


@strawberry.type
class SymbolQueries:
    """The query field of this module, mixed into the schema's Query."""

    symbol: Symbol = strawberry.field(
        resolver=symbol,
        description="One market and everything stored of it, in one request. INVALID_ARGUMENT "
        "for a malformed symbol or an unknown venue; fields of a symbol nothing is stored of "
        "answer empty or null.",
    )


# Entity types the federation schema lists in `types=[…]`.
ENTITY_TYPES: list[type] = [Symbol]
# Each entity's key fields in a representation: (required, optional), all strings.
_KEY_FIELDS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "Symbol": (frozenset({"name"}), frozenset({"venue"})),
}

Resolve = Callable[[Info[Context, None], list[Any]], list[Any]]


def representation_error(representation: object) -> str | None:
    """Why a router's entity representation cannot be resolved, or None when it can."""
    if not isinstance(representation, dict):
        return "a representation is an object with __typename and the entity's key fields"
    typename = representation.get("__typename")
    if typename not in _KEY_FIELDS:
        return f"__typename {typename!r} is no entity of this subgraph ({', '.join(_KEY_FIELDS)})"
    required, optional = _KEY_FIELDS[typename]
    given = set(representation) - {"__typename"}
    missing, unknown = sorted(required - given), sorted(given - required - optional)
    if missing or unknown:
        return f"{typename} is keyed by {', '.join(sorted(required | optional))}: " + "; ".join(
            part
            for part in (
                f"missing {', '.join(missing)}" if missing else "",
                f"no key field {', '.join(unknown)}" if unknown else "",
            )
            if part
        )
    not_text = sorted(name for name in given if not isinstance(representation[name], str))
    if not_text:
        return f"{typename}: {', '.join(not_text)} must be a string"
    return None


def checked_entities(
    resolve: Resolve, info: Info[Context, None], representations: Sequence[object]
) -> list[Any]:
    """``_entities`` with each representation checked first: a malformed one is a typed
    INVALID_ARGUMENT for that entity alone (Strawberry's own resolver would fail the whole
    field with an internal error), and the caller's representations are left as they were."""
    results: list[Any] = [None] * len(representations)
    valid: list[tuple[int, dict[str, Any]]] = []
    for index, representation in enumerate(representations):
        error = representation_error(representation)
        if error is None:
            assert isinstance(representation, dict)
            valid.append((index, dict(representation)))
        else:
            results[index] = TypedError("INVALID_ARGUMENT", f"representations[{index}]: {error}")
    resolved = resolve(info, [representation for _, representation in valid])
    for (index, _), result in zip(valid, resolved, strict=True):
        results[index] = result
    return results
