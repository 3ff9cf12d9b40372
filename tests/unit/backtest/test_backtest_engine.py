"""The simulation's conventions, each on a few hand-made bars with the result worked out by hand."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from services.backtest import engine
from services.backtest.engine import Direction, ExitReason, Fill, Settings, simulate
from services.common.errors import InvalidArgument
from tests.unit.backtest.market import bars_from_closes, random_walk

FEE = 0.001
OPENS = [1.0, 2.0, 3.0, 4.0, 5.0]
CLOSES = [1.5, 2.5, 3.5, 4.5, 5.5]


def _flags(n: int, *bars: int) -> np.ndarray:
    flags = np.zeros(n, dtype=np.bool_)
    flags[list(bars)] = True
    return flags


def _run(entries: list[int], exits: list[int], **settings: object) -> engine.Simulation:
    bars = bars_from_closes(CLOSES, OPENS)
    options = {"cash": 1000.0, "fee_rate": FEE, **settings}
    return simulate(bars, _flags(5, *entries), _flags(5, *exits), Settings(**options))  # type: ignore[arg-type]


def test_next_open_buys_all_in_at_the_next_open_and_sells_at_the_open_after_the_exit() -> None:
    result = _run([0], [2])
    size = 1000 / (2 * (1 + FEE))
    assert result.trades.size[0] == pytest.approx(size, rel=1e-15)
    assert result.final_equity == pytest.approx(size * 4 * (1 - FEE), rel=1e-15)
    assert result.trades.entry_bar.tolist() == [1]
    assert result.trades.exit_bar.tolist() == [3]
    expected_curve = [1000, size * 2.5, size * 3.5, size * 4 * (1 - FEE), size * 4 * (1 - FEE)]
    np.testing.assert_allclose(result.equity, expected_curve, rtol=1e-15)
    assert result.units.tolist() == [0, size, size, 0, 0]


def test_close_fill_trades_at_the_signal_bars_close() -> None:
    result = _run([0], [2], fill=Fill.CLOSE)
    assert result.final_equity == pytest.approx(
        1000 * 3.5 * (1 - FEE) / (1.5 * (1 + FEE)), rel=1e-15
    )
    assert result.trades.entry_bar.tolist() == [0]
    assert result.trades.exit_bar.tolist() == [2]


def test_a_position_open_at_the_end_is_valued_at_the_last_close_without_exit_fee() -> None:
    result = _run([1], [])
    assert result.final_equity == pytest.approx(1000 / (3 * (1 + FEE)) * 5.5, rel=1e-15)
    assert result.entries == 1
    assert result.trades.exit_reason.tolist() == [ExitReason.OPEN]
    assert not result.trades.closed.any()


def test_a_signal_on_the_last_bar_fills_only_under_close() -> None:
    assert _run([4], []).entries == 0
    assert _run([4], []).final_equity == 1000
    closing = _run([4], [], fill=Fill.CLOSE)
    assert closing.entries == 1
    assert closing.final_equity == pytest.approx(1000 / (1 + FEE), rel=1e-15)


def test_an_entry_and_an_exit_on_the_same_bar_cancel_out() -> None:
    assert _run([0, 1], [1, 3]).trades.entry_bar.tolist() == [1]
    assert _run([1], [1]).entries == 0


def test_entries_while_long_and_exits_while_flat_do_nothing() -> None:
    result = _run([0, 1], [2, 3])
    assert result.trades.entry_bar.tolist() == [1]
    assert result.trades.exit_bar.tolist() == [3]


def test_slippage_worsens_both_fills() -> None:
    result = _run([0], [2], slippage_bps=100)
    buy, sell = 2 * 1.01, 4 * 0.99
    assert result.trades.entry_price[0] == pytest.approx(buy)
    assert result.final_equity == pytest.approx(
        1000 / (buy * (1 + FEE)) * sell * (1 - FEE), rel=1e-14
    )


def test_position_size_commits_that_share_of_equity_and_keeps_the_rest_in_cash() -> None:
    result = _run([0], [2], position_size=0.5)
    assert result.final_equity == pytest.approx(
        500 + 500 / (2 * (1 + FEE)) * 4 * (1 - FEE), rel=1e-15
    )


def test_long_short_reverses_on_each_exit_and_entry() -> None:
    result = _run([0], [2], direction=Direction.LONG_SHORT)
    after_long = 1000 / (2 * (1 + FEE)) * 4 * (1 - FEE)
    short = after_long / (4 * (1 + FEE))
    cash = after_long + short * 4 * (1 - FEE)
    assert result.trades.direction.tolist() == [1, -1]
    assert result.final_equity == pytest.approx(cash - short * 5.5, rel=1e-14)
    assert result.units[-1] == pytest.approx(-short)


def test_no_signals_leave_the_cash_alone() -> None:
    result = _run([], [])
    assert result.final_equity == 1000
    assert result.equity.tolist() == [1000] * 5
    assert len(result.trades) == 0


# --- stops ----------------------------------------------------------------------------------

STOP_OPENS = [100, 100, 99, 100, 100, 100]
STOP_CLOSES = [100, 100, 99, 100, 100, 100]


def _stopped(
    highs: Sequence[float],
    lows: Sequence[float],
    opens: Sequence[float] | None = None,
    **settings: object,
) -> engine.Simulation:
    bars = bars_from_closes(STOP_CLOSES, opens or STOP_OPENS, highs, lows)
    options = {"cash": 1000.0, "fee_rate": 0.0, **settings}
    return simulate(bars, _flags(6, 0), _flags(6), Settings(**options))  # type: ignore[arg-type]


def test_stop_loss_fills_at_its_level_on_the_first_bar_whose_low_reaches_it() -> None:
    result = _stopped([100, 101, 99, 100, 100, 100], [100, 95, 89, 100, 100, 100], stop_loss=0.1)
    assert result.trades.exit_bar.tolist() == [2]
    assert result.trades.exit_price[0] == pytest.approx(90)
    assert result.trades.exit_reason.tolist() == [ExitReason.STOP_LOSS]
    assert result.final_equity == pytest.approx(900)


def test_a_gap_through_the_stop_fills_at_the_open() -> None:
    result = _stopped(
        [100, 101, 85, 100, 100, 100],
        [100, 95, 80, 100, 100, 100],
        [100, 100, 85, 100, 100, 100],
        stop_loss=0.1,
    )
    assert result.trades.exit_price[0] == pytest.approx(85)


def test_take_profit_fills_at_its_level() -> None:
    result = _stopped([100, 105, 99, 111, 100, 100], [100, 99, 98, 99, 100, 100], take_profit=0.1)
    assert result.trades.exit_bar.tolist() == [3]
    assert result.trades.exit_price[0] == pytest.approx(110)
    assert result.trades.exit_reason.tolist() == [ExitReason.TAKE_PROFIT]


def test_stop_loss_and_take_profit_in_one_bar_assume_the_loss() -> None:
    result = _stopped(
        [100, 100, 120, 100, 100, 100], [100, 99, 80, 100, 100, 100], stop_loss=0.1, take_profit=0.1
    )
    assert result.trades.exit_reason.tolist() == [ExitReason.STOP_LOSS]
    assert result.trades.exit_price[0] == pytest.approx(90)


def test_trailing_stop_follows_the_highs_of_earlier_bars_only() -> None:
    # Peak before bar 2 is 120 (level 108; its low 109 holds although its own high is 125);
    # before bar 3 it is 125 (level 112.5), reached by bar 3's low.
    result = _stopped(
        [100, 120, 125, 114, 100, 100],
        [100, 105, 109, 110, 100, 100],
        [100, 100, 110, 113, 100, 100],
        trailing_stop=0.1,
    )
    assert result.trades.exit_bar.tolist() == [3]
    assert result.trades.exit_price[0] == pytest.approx(112.5)
    assert result.trades.exit_reason.tolist() == [ExitReason.TRAILING_STOP]


def test_next_open_checks_the_entry_bar_and_close_does_not() -> None:
    highs, lows = [100, 100, 100, 100, 100, 100], [50, 85, 100, 100, 100, 100]
    next_open = _stopped(highs, lows, stop_loss=0.1)
    assert next_open.trades.exit_bar.tolist() == [1]
    on_close = _stopped(highs, lows, stop_loss=0.1, fill=Fill.CLOSE)
    assert on_close.trades.entry_bar.tolist() == [0]
    assert on_close.trades.exit_bar.tolist() == [1]  # bar 0's low came before the entry


def test_after_a_stop_only_a_signal_at_or_after_the_stop_bar_enters_again() -> None:
    # Signal 0 fills at bar 1, stopped in bar 2; signal 1 came while long, signal 3 enters.
    bars = bars_from_closes([100] * 6, [100] * 6, [100] * 6, [100, 100, 80, 100, 100, 100])
    entries = _flags(6, 0, 1, 3)
    result = simulate(bars, entries, _flags(6), Settings(fee_rate=0.0, stop_loss=0.1))
    assert result.trades.entry_bar.tolist() == [1, 4]


def test_short_stop_loss_triggers_on_the_high() -> None:
    bars = bars_from_closes([100] * 5, [100] * 5, [100, 100, 111, 100, 100], [100] * 5)
    result = simulate(
        bars,
        _flags(5),
        _flags(5, 0),
        Settings(fee_rate=0.0, stop_loss=0.1, direction=Direction.LONG_SHORT),
    )
    assert result.trades.direction.tolist() == [-1]
    assert result.trades.exit_price[0] == pytest.approx(110)
    assert result.final_equity == pytest.approx(9000)


@pytest.mark.parametrize("fill", list(Fill))
@pytest.mark.parametrize("direction", list(Direction))
def test_the_trade_loop_without_stops_matches_the_vectorised_path(
    fill: Fill, direction: Direction
) -> None:
    bars = random_walk(3_000, 11)
    rng = np.random.default_rng(5)
    entries, exits = rng.random(3_000) < 0.02, rng.random(3_000) < 0.02
    entries, exits = entries & ~exits, exits & ~entries
    settings = Settings(fill=fill, direction=direction)
    fast = engine._legs(bars, entries, exits, settings)
    looped = engine._legs_with_stops(bars, entries, exits, settings)
    for column in (
        "direction",
        "entry_bar",
        "entry_price",
        "exit_bar",
        "exit_price",
        "exit_reason",
    ):
        np.testing.assert_array_equal(getattr(fast, column), getattr(looped, column))


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("cash", 0.0, "cash"),
        ("fee_rate", -0.1, "feeRate"),
        ("position_size", 1.5, "positionSize"),
        ("slippage_bps", -1.0, "slippageBps"),
        ("stop_loss", 1.0, "stopLoss"),
        ("take_profit", 0.0, "takeProfit"),
        ("trailing_stop", 2.0, "trailingStop"),
    ],
)
def test_bad_settings_name_the_field(field: str, value: float, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        Settings(**{field: value})  # type: ignore[arg-type]


def test_signals_of_the_wrong_length_are_refused() -> None:
    with pytest.raises(InvalidArgument, match="one value per bar"):
        simulate(bars_from_closes(CLOSES), _flags(4), _flags(5))


@pytest.mark.parametrize("fill", list(Fill))
@pytest.mark.parametrize("direction", list(Direction))
@pytest.mark.parametrize("stops", [{}, {"stop_loss": 0.002, "trailing_stop": 0.003}])
def test_bars_exposed_counts_the_bars_closing_with_units_held(
    fill: Fill, direction: Direction, stops: dict[str, float]
) -> None:
    bars = random_walk(3_000, 12)
    rng = np.random.default_rng(6)
    entries, exits = rng.random(3_000) < 0.02, rng.random(3_000) < 0.02
    result = simulate(bars, entries, exits, Settings(fill=fill, direction=direction, **stops))
    assert result.bars_exposed == np.count_nonzero(result.units) > 0
