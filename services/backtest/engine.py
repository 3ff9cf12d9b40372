"""The simulation: entry and exit signals in, trades and an equity curve out.

Pure (numpy only). The conventions, chosen so results can be checked against backtesting.py
and vectorbt (tests/unit/backtest/test_backtest_agreement.py):

Signals and fills
    Signals are decided on a bar's close. ``Fill.NEXT_OPEN`` (the default; no look-ahead)
    fills at the next bar's open, so a signal on the last bar never fills; ``Fill.CLOSE``
    fills at the signal bar's close. An entry and an exit on the same bar cancel out (neither
    acts, as vectorbt's default). An entry while long and an exit while flat do nothing.

Money (fee f, position size ps, slippage s = slippageBps / 10,000)
    A long buys at p·(1 + s) and sells at q·(1 − s); a short sells at p·(1 − s) and buys back
    at q·(1 + s). Entering with equity E buys ``size = ps·E / (p·(1 + f))`` units, so all-in
    (ps = 1) spends the whole cash; closing a long yields size·q·(1 − f), a short costs
    size·q·(1 + f) to buy back. The part of E not committed (1 − ps) stays in cash.
    A position open at the end is valued at the last close with no exit fee. Equity is
    measured at every bar's close.

Direction
    ``LONG_ONLY``: entries open a long, exits close it. ``LONG_SHORT``: entries go long,
    exits go short; each reverses the position (close, then open with the equity left).

Stops (fractions of the entry fill price p before slippage; each optional)
    stopLoss sl: a long exits when a bar's low reaches p·(1 − sl), a short when its high
    reaches p·(1 + sl). takeProfit tp: a long exits when a high reaches p·(1 + tp), a short
    when a low reaches p·(1 − tp). trailingStop r: a long exits when a low reaches
    peak·(1 − r), peak being the highest of p and the highs of the bars checked before this
    one (a short: trough·(1 + r), the lowest of p and earlier lows) — a bar's own high never
    raises the level that bar is checked against, since we cannot know which came first.
    Checked bars: from the entry bar itself under NEXT_OPEN (the whole bar follows its open),
    from the bar after under CLOSE. A stop fills at its level, or at the bar's open when the
    open is already beyond it (a gap). Stop loss and trailing stop hit in the same bar as the
    take profit: the loss side wins (we assume the worse). A stop before a signal exit's fill
    wins; after a stop the position is flat until the next signal on a bar at or after it.

Speed: without stops nothing loops over bars or trades — the position after each signal is
the kind of that signal, so trades are where the kind changes, and equity compounds by a
cumulative product. Stops need the path of each trade: a loop over trades, numpy within one.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from services.backtest.bars import Array, Bars
from services.common.errors import InvalidArgument

Bools = npt.NDArray[np.bool_]
Ints = npt.NDArray[np.int64]


class Fill(enum.StrEnum):
    NEXT_OPEN = "NEXT_OPEN"
    CLOSE = "CLOSE"


class Direction(enum.StrEnum):
    LONG_ONLY = "LONG_ONLY"
    LONG_SHORT = "LONG_SHORT"


class ExitReason(enum.IntEnum):
    SIGNAL = 0
    STOP_LOSS = 1
    TAKE_PROFIT = 2
    TRAILING_STOP = 3
    OPEN = 4  # still open at the end: marked at the last close


@dataclass(frozen=True)
class Settings:
    """How to trade the signals (the non-strategy part of ``BacktestInput``)."""

    cash: float = 10_000.0
    fee_rate: float = 0.001
    slippage_bps: float = 0.0
    fill: Fill = Fill.NEXT_OPEN
    direction: Direction = Direction.LONG_ONLY
    position_size: float = 1.0
    stop_loss: float | None = None
    take_profit: float | None = None
    trailing_stop: float | None = None

    def __post_init__(self) -> None:
        _require(math.isfinite(self.cash) and self.cash > 0, "cash", self.cash, "> 0")
        _require(0 <= self.fee_rate < 1, "feeRate", self.fee_rate, "in [0, 1)")
        _require(0 <= self.slippage_bps < 10_000, "slippageBps", self.slippage_bps, "in [0, 10000)")
        _require(0 < self.position_size <= 1, "positionSize", self.position_size, "in (0, 1]")
        for name, value, upper in (
            ("stopLoss", self.stop_loss, 1.0),
            ("takeProfit", self.take_profit, math.inf),
            ("trailingStop", self.trailing_stop, 1.0),
        ):
            if value is not None:
                _require(0 < value < upper, name, value, "in (0, 1)" if upper == 1.0 else "> 0")

    @property
    def has_stops(self) -> bool:
        return any(v is not None for v in (self.stop_loss, self.take_profit, self.trailing_stop))


def _require(ok: bool, name: str, value: object, rule: str) -> None:
    if not ok:
        raise InvalidArgument(f"{name} must be {rule}, got {value}")


@dataclass(frozen=True, eq=False)
class Trades:
    """Every trade, as columns. Prices are fills (slippage included); an open trade's exit
    is the last close, its exit bar the last bar, its reason ``OPEN`` and its pnl counts no
    exit fee. ``pnl`` is in cash, both fees included; ``returns`` is pnl over the equity
    committed at entry (ps·E)."""

    direction: npt.NDArray[np.int8]
    entry_bar: Ints
    exit_bar: Ints
    entry_price: Array
    exit_price: Array
    size: Array
    pnl: Array
    returns: Array
    exit_reason: npt.NDArray[np.int8]

    def __len__(self) -> int:
        return len(self.entry_bar)

    @property
    def closed(self) -> Bools:
        closed: Bools = self.exit_reason != ExitReason.OPEN
        return closed


@dataclass(frozen=True, eq=False)
class Simulation:
    """What a run produced: equity at each bar's close, the trades, and (on demand) the
    units held at each close. ``equity`` and ``units`` are empty when the run was asked for
    the final equity only."""

    settings: Settings
    final_equity: float
    trades: Trades
    equity: Array
    # Units (signed) of each stretch of bars between fills, and each stretch's length.
    unit_steps: tuple[Array, Ints]

    @property
    def entries(self) -> int:
        return len(self.trades)

    @property
    def units(self) -> Array:
        """Units held at each bar's close: + long, − short, 0 flat."""
        held: Array = np.repeat(*self.unit_steps)
        return held

    @property
    def bars_exposed(self) -> int:
        """Bars closing with a position open: each trade holds from its entry bar up to,
        not including, its exit bar (an open trade: to the last bar)."""
        if len(self.trades) == 0:
            return 0
        trades = self.trades
        ends = np.where(trades.closed, trades.exit_bar, trades.exit_bar + 1)
        return int((ends - trades.entry_bar).sum())


@dataclass(frozen=True, eq=False)
class _Legs:
    """Trades before money: direction, fill bars and market prices (no slippage yet)."""

    direction: npt.NDArray[np.int8]
    entry_bar: Ints
    entry_price: Array
    exit_bar: Ints  # the last bar for a trade still open
    exit_price: Array  # the last close for a trade still open
    exit_reason: npt.NDArray[np.int8]


def simulate(
    bars: Bars,
    entries: Bools,
    exits: Bools,
    settings: Settings | None = None,
    *,
    curve: bool = True,
) -> Simulation:
    """Trade ``entries``/``exits`` (booleans, one per bar) over ``bars`` under ``settings``.

    ``curve=False`` skips the per-bar equity and units (the optimiser ranks by final equity
    or by the trades alone when it can).
    """
    settings = settings or Settings()
    n = len(bars)
    entries = np.asarray(entries, dtype=np.bool_)
    exits = np.asarray(exits, dtype=np.bool_)
    if entries.shape != (n,) or exits.shape != (n,):
        raise InvalidArgument(
            f"entries and exits must have one value per bar ({n}), "
            f"got {entries.shape} and {exits.shape}"
        )
    if n == 0:
        raise InvalidArgument("a backtest needs at least one bar")
    clash = entries & exits
    if clash.any():
        entries, exits = entries & ~clash, exits & ~clash
    legs = (
        _legs_with_stops(bars, entries, exits, settings)
        if settings.has_stops
        else _legs(bars, entries, exits, settings)
    )
    return _money(bars, legs, settings, curve)


def _signal_fills(bars: Bars, signal_bars: Ints, fill: Fill) -> tuple[Ints, Array]:
    """The fill bars and prices of signals on ``signal_bars`` (which all can fill)."""
    if fill is Fill.NEXT_OPEN:
        fill_bars = signal_bars + 1
        return fill_bars, bars.open[fill_bars]
    return signal_bars, bars.close[signal_bars]


def _legs(bars: Bars, entries: Bools, exits: Bools, settings: Settings) -> _Legs:
    """Trades without stops, vectorised: after any signal the position is that signal's
    kind (long after an entry; flat — or short under LONG_SHORT — after an exit), so the
    trades begin and end exactly where the kind of consecutive signals changes."""
    n = len(bars)
    signal_bars = np.flatnonzero(entries | exits)
    if settings.fill is Fill.NEXT_OPEN:
        signal_bars = signal_bars[signal_bars < n - 1]
    kind = entries[signal_bars]
    changed = np.empty(len(kind), dtype=np.bool_)
    if settings.direction is Direction.LONG_ONLY:
        changed[:1] = kind[:1]  # the first signal matters only if it is an entry
    else:
        changed[:1] = True
    changed[1:] = kind[1:] != kind[:-1]
    turns = signal_bars[changed]
    turn_kind = kind[changed]
    fill_bars, prices = _signal_fills(bars, turns, settings.fill)
    if settings.direction is Direction.LONG_ONLY:
        # turn_kind alternates True, False, True, ...: entries at even positions.
        opens, closes = slice(0, None, 2), slice(1, None, 2)
        entry_bar, entry_price = fill_bars[opens], prices[opens]
        exit_bar, exit_price = fill_bars[closes], prices[closes]
        direction = np.ones(len(entry_bar), dtype=np.int8)
    else:
        entry_bar, entry_price = fill_bars, prices
        exit_bar, exit_price = fill_bars[1:], prices[1:]
        direction = np.where(turn_kind, 1, -1).astype(np.int8)
    reason = np.full(len(entry_bar), ExitReason.SIGNAL, dtype=np.int8)
    if len(exit_bar) < len(entry_bar):
        exit_bar = np.append(exit_bar, n - 1)
        exit_price = np.append(exit_price, bars.close[-1])
        reason[-1] = ExitReason.OPEN
    return _Legs(direction, entry_bar, entry_price, exit_bar, exit_price, reason)


def _legs_with_stops(bars: Bars, entries: Bools, exits: Bools, settings: Settings) -> _Legs:
    """Trades with stops: a loop over trades (a stop exit moves where the next trade can
    begin), numpy over the bars of each trade."""
    n = len(bars)
    last_signal = n - 2 if settings.fill is Fill.NEXT_OPEN else n - 1
    long_signals = np.flatnonzero(entries)
    short_signals = np.flatnonzero(exits)
    both_ways = settings.direction is Direction.LONG_SHORT
    rows: list[tuple[int, int, float, int, float, int]] = []
    earliest = 0  # the first bar whose signal may open a trade
    pending: tuple[int, int] | None = None  # (direction, signal bar) of a reversal
    while True:
        if pending is None:
            opening = _next_opening(long_signals, short_signals, earliest, both_ways)
            if opening is None or opening[1] > last_signal:
                break
            pending = opening
        side, signal_bar = pending
        pending = None
        entry_bar, entry_price = _one_fill(bars, signal_bar, settings.fill)
        closing_signals = short_signals if side == 1 else long_signals
        following = np.searchsorted(closing_signals, signal_bar, side="right")
        close_signal = int(closing_signals[following]) if following < len(closing_signals) else None
        if close_signal is not None and close_signal > last_signal:
            close_signal = None
        first_checked = entry_bar if settings.fill is Fill.NEXT_OPEN else entry_bar + 1
        last_checked = n - 1 if close_signal is None else close_signal
        stop = _first_stop(bars, side, entry_price, first_checked, last_checked, settings)
        if stop is not None:
            stop_bar, stop_price, reason = stop
            rows.append((side, entry_bar, entry_price, stop_bar, stop_price, reason))
            earliest = stop_bar
            continue
        if close_signal is None:
            rows.append(
                (side, entry_bar, entry_price, n - 1, float(bars.close[-1]), ExitReason.OPEN)
            )
            break
        exit_bar, exit_price = _one_fill(bars, close_signal, settings.fill)
        rows.append((side, entry_bar, entry_price, exit_bar, exit_price, ExitReason.SIGNAL))
        earliest = close_signal + 1
        if both_ways:
            pending = (-side, close_signal)
    columns: list[tuple[float, ...]] = list(zip(*rows, strict=True)) if rows else [()] * 6
    return _Legs(
        np.asarray(columns[0], dtype=np.int8),
        np.asarray(columns[1], dtype=np.int64),
        np.asarray(columns[2], dtype=np.float64),
        np.asarray(columns[3], dtype=np.int64),
        np.asarray(columns[4], dtype=np.float64),
        np.asarray(columns[5], dtype=np.int8),
    )


def _next_opening(
    long_signals: Ints, short_signals: Ints, earliest: int, both_ways: bool
) -> tuple[int, int] | None:
    """(direction, signal bar) of the first signal at or after ``earliest`` that opens."""
    candidates = []
    at = np.searchsorted(long_signals, earliest)
    if at < len(long_signals):
        candidates.append((int(long_signals[at]), 1))
    if both_ways:
        at = np.searchsorted(short_signals, earliest)
        if at < len(short_signals):
            candidates.append((int(short_signals[at]), -1))
    if not candidates:
        return None
    bar, side = min(candidates)
    return side, bar


def _one_fill(bars: Bars, signal_bar: int, fill: Fill) -> tuple[int, float]:
    if fill is Fill.NEXT_OPEN:
        return signal_bar + 1, float(bars.open[signal_bar + 1])
    return signal_bar, float(bars.close[signal_bar])


def _first_stop(
    bars: Bars, side: int, entry: float, first: int, last: int, settings: Settings
) -> tuple[int, float, int] | None:
    """(bar, fill price, reason) of the first stop hit in bars [first, last], if any."""
    if first > last:
        return None
    stop = slice(first, last + 1)
    # Work in "adverse" terms: for a short, negate prices so both sides read as a long.
    sign = float(side)
    low = bars.low[stop] if side == 1 else -bars.high[stop]
    high = bars.high[stop] if side == 1 else -bars.low[stop]
    opening = sign * bars.open[stop]
    price = sign * entry
    loss_level = -np.inf
    if settings.stop_loss is not None:
        loss_level = price - entry * settings.stop_loss
    level: Array | float = loss_level
    trailing: Array | None = None
    if settings.trailing_stop is not None:
        peak = np.empty(len(high))
        peak[0] = price
        np.maximum.accumulate(np.maximum(high[:-1], price), out=peak[1:])
        trailing = peak - np.abs(peak) * settings.trailing_stop
        level = np.maximum(trailing, loss_level)
    loss_hit = low <= level
    profit_level = math.inf
    if settings.take_profit is not None:
        profit_level = price + entry * settings.take_profit
    hit = loss_hit | (high >= profit_level)
    first_hit = int(np.argmax(hit))
    if not hit[first_hit]:
        return None
    if loss_hit[first_hit]:
        stop_level = float(level if isinstance(level, float) else level[first_hit])
        reason = (
            ExitReason.TRAILING_STOP
            if trailing is not None and trailing[first_hit] > loss_level
            else ExitReason.STOP_LOSS
        )
        fill = min(float(opening[first_hit]), stop_level)
    else:
        reason = ExitReason.TAKE_PROFIT
        fill = max(float(opening[first_hit]), profit_level)
    return first + first_hit, sign * fill, reason


def _money(bars: Bars, legs: _Legs, settings: Settings, curve: bool) -> Simulation:
    """Cash, units and equity from the legs: each closed trade multiplies equity by
    g = 1 + d·ps·(q·(1 − d·f) − p·(1 + d·f)) / (p·(1 + f))."""
    fee, share = settings.fee_rate, settings.position_size
    slip = settings.slippage_bps / 10_000.0
    d = legs.direction.astype(np.float64)
    entry_price = legs.entry_price * (1.0 + d * slip)
    exit_price = legs.exit_price * (1.0 - d * slip)
    is_open = legs.exit_reason == ExitReason.OPEN
    exit_price[is_open] = legs.exit_price[is_open]  # marked at the close, no slippage
    exit_fee = np.where(is_open, 0.0, fee)
    growth = 1.0 + d * share * (
        exit_price * (1.0 - d * exit_fee) - entry_price * (1.0 + d * fee)
    ) / (entry_price * (1.0 + fee))
    before = np.empty(len(growth) + 1)
    before[0] = settings.cash
    np.cumprod(growth, out=before[1:])
    before[1:] *= settings.cash
    start_equity = before[:-1]
    size = share * start_equity / (entry_price * (1.0 + fee))
    pnl = before[1:] - start_equity
    trades = Trades(
        legs.direction,
        legs.entry_bar,
        legs.exit_bar,
        entry_price,
        exit_price,
        size,
        pnl,
        pnl / (share * start_equity),
        legs.exit_reason,
    )
    final = float(before[-1])
    if not curve:
        return Simulation(
            settings, final, trades, np.empty(0), (np.empty(0), np.empty(0, np.int64))
        )
    cash_during = start_equity - d * size * entry_price * (1.0 + d * fee)
    equity, steps = _curve(bars, legs, is_open, cash_during, d * size, before[1:], settings.cash)
    return Simulation(settings, final, trades, equity, steps)


def _curve(
    bars: Bars,
    legs: _Legs,
    is_open: Bools,
    cash_during: Array,
    units_during: Array,
    cash_after: Array,
    cash: float,
) -> tuple[Array, tuple[Array, Ints]]:
    """Equity at every bar's close, and the units of each stretch between fills. A bar's
    state is the one after the last fill at or before it (fills in time order: entry 0,
    exit 0, entry 1, ...; an open trade's end is no fill)."""
    n = len(bars)
    count = len(legs.entry_bar)
    event_bar = np.empty(2 * count, dtype=np.int64)
    event_cash = np.empty(2 * count)
    event_units = np.zeros(2 * count)
    event_bar[0::2], event_bar[1::2] = legs.entry_bar, legs.exit_bar
    event_cash[0::2], event_cash[1::2] = cash_during, cash_after
    event_units[0::2] = units_during
    if count and is_open[-1]:
        event_bar, event_cash, event_units = event_bar[:-1], event_cash[:-1], event_units[:-1]
    # Fills on the same bar: the last one holds at its close.
    last_of_bar = np.empty(len(event_bar), dtype=np.bool_)
    if len(event_bar):
        last_of_bar[-1] = True
        np.not_equal(event_bar[1:], event_bar[:-1], out=last_of_bar[:-1])
    bounds = np.concatenate(([0], event_bar[last_of_bar], [n]))
    held = np.diff(bounds)  # bars each state lasts
    units = np.concatenate(([0.0], event_units[last_of_bar]))
    equity = np.repeat(units, held)
    equity *= bars.close
    equity += np.repeat(np.concatenate(([cash], event_cash[last_of_bar])), held)
    return equity, (units, held)
