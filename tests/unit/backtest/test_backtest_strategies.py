"""Built-in strategies, their parameter schemas, the crossing rule, and user strategies loaded
from the ``quantflow.strategies`` entry-point group."""

from __future__ import annotations

import logging
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from services.backtest import strategies
from services.backtest.bars import Indicators
from services.backtest.strategies import crosses_above, crosses_below, resolve_params
from services.common.errors import InvalidArgument
from tests.unit.backtest.market import random_walk

BUILTIN_NAMES = {
    "sma_cross",
    "ema_cross",
    "rsi_reversion",
    "macd_cross",
    "bollinger_reversion",
    "bollinger_breakout",
    "donchian_breakout",
}


def test_every_builtin_of_the_issue_is_there_with_a_schema() -> None:
    builtins = strategies.builtins()
    assert set(builtins) == BUILTIN_NAMES
    assert [param.name for param in builtins["sma_cross"].params] == ["fast", "slow"]
    for strategy in builtins.values():
        assert strategy.description
        for param in strategy.params:
            assert param.type in ("int", "float")
            assert param.min <= param.default <= param.max
            assert param.description


@pytest.mark.parametrize("name", sorted(BUILTIN_NAMES))
def test_every_builtin_trades_a_random_walk_with_its_defaults(name: str) -> None:
    strategy = strategies.get(name)
    bars = random_walk(3_000, 3)
    entries, exits = strategy.signals(Indicators(bars), resolve_params(strategy, {}))
    assert entries.dtype == np.bool_ and entries.shape == (3_000,)
    assert entries.any() and exits.any()
    assert not (entries & exits).any()


def test_crossing_is_strict_on_both_bars() -> None:
    a = np.array([1.0, 2.0, 2.0, 3.0, 1.0, np.nan, 3.0])
    b = np.array([2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0])
    # 1→2 touches (no cross); 2→3 starts from equality (no cross); NaN breaks a cross.
    assert crosses_above(a, b).tolist() == [False] * 7
    assert crosses_below(a, b).tolist() == [False, False, False, False, True, False, False]
    assert crosses_above(np.array([1.0, 3.0]), 2.0).tolist() == [False, True]


def test_params_are_checked_against_the_schema() -> None:
    sma = strategies.get("sma_cross")
    assert resolve_params(sma, {"fast": 5}) == {"fast": 5, "slow": 30}
    assert resolve_params(sma, {"fast": 5.0, "slow": 40})["fast"] == 5
    with pytest.raises(InvalidArgument, match="no parameter window"):
        resolve_params(sma, {"window": 3})
    with pytest.raises(InvalidArgument, match="fast must be a whole number"):
        resolve_params(sma, {"fast": 2.5})
    with pytest.raises(InvalidArgument, match="fast must lie in"):
        resolve_params(sma, {"fast": 0})
    with pytest.raises(InvalidArgument, match="needs fast < slow"):
        resolve_params(sma, {"fast": 30, "slow": 10})
    with pytest.raises(InvalidArgument, match="must be a number"):
        resolve_params(sma, {"fast": "10"})


def test_an_unknown_strategy_names_the_known_ones() -> None:
    with pytest.raises(InvalidArgument, match="known: bollinger_breakout"):
        strategies.get("nope")


PLUGIN = textwrap.dedent(
    """
    import numpy as np
    from services.backtest.strategies import Param, Signals

    class Always:
        name = "always_long"
        description = "Long from the second bar on."
        params = (Param("delay", "int", 1, 0, 100, "bars to wait"),)

        def signals(self, indicators, params):
            entries = np.zeros(len(indicators.bars), dtype=bool)
            entries[int(params["delay"])] = True
            return Signals(entries, np.zeros_like(entries))

    class Clash(Always):
        name = "sma_cross"

    class Broken:
        pass
    """
)


@pytest.fixture
def plugin_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A tiny installed distribution: a module and a dist-info with entry points."""
    (tmp_path / "qf_test_plugin.py").write_text(PLUGIN)
    info = tmp_path / "qf_test_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: qf-test-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[quantflow.strategies]\n"
        "always = qf_test_plugin:Always\n"
        "clash = qf_test_plugin:Clash\n"
        "broken = qf_test_plugin:Broken\n"
        "missing = qf_test_plugin:Missing\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    sys.modules.pop("qf_test_plugin", None)


def test_user_strategies_load_from_the_entry_point_group(
    plugin_on_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        registry = strategies.registry()
    assert set(registry) == BUILTIN_NAMES | {"always_long"}
    assert registry["sma_cross"] is strategies.builtins()["sma_cross"]
    warned = caplog.text
    assert "qf_test_plugin:Clash" in warned and "taken" in warned
    assert "qf_test_plugin:Broken" in warned and "not a strategy" in warned
    assert "qf_test_plugin:Missing" in warned and "failed to load" in warned
    strategy = registry["always_long"]
    bars = random_walk(10, 1)
    entries, _ = strategy.signals(Indicators(bars), resolve_params(strategy, {"delay": 3}))
    assert np.flatnonzero(entries).tolist() == [3]
