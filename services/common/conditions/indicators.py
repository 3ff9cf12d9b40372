"""Indicator values for a condition, from a ``compute`` the caller injects.

``compute(spec, candles)`` returns every output of one spec (``macd(12,26,9)`` →
``{"macd": …, "macd_signal": …, "macd_diff": …}``), aligned with the candles. Any
implementation of the indicator catalogue fits; the default is the catalogue's own
(:func:`services.common.indicators.compute.outputs`: numpy for the hot indicators, `ta` for
the rest), the same values ``indicators`` answers in GraphQL. Whatever it returns, values
before an indicator's warm-up and infinities become NaN (undefined), so implementations that
fill the warm-up differently (`ta`'s ATR says 0) give the same condition values.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import numpy.typing as npt

from services.common.conditions.checker import Condition

Array = npt.NDArray[np.float64]
Candles = Mapping[str, Array]  # "open", "high", "low", "close", "volume", oldest first
Compute = Callable[[str, Candles], Mapping[str, Array]]
# Indicator outputs someone already has, by (spec, output): ("macd(12,26,9)", "macd_signal").
Precomputed = Mapping[tuple[str, str], Array]


def indicator_columns(
    condition: Condition,
    candles: Candles,
    compute: Compute | None = None,
    precomputed: Precomputed | None = None,
) -> dict[str, Array]:
    """Every indicator output ``condition`` reads, keyed by its text (``rsi(14)``): from
    ``precomputed`` where given, else from ``compute`` (default: the indicator catalogue),
    each spec computed once."""
    if compute is None:
        # Imported here: the catalogue brings `ta` and pandas, which parsing and trade
        # conditions never need.
        from services.common.indicators.compute import outputs

        compute = outputs
    length = len(candles["close"])
    given = precomputed or {}
    computed: dict[str, Mapping[str, Array]] = {}
    columns: dict[str, Array] = {}
    for indicator in condition.indicators:
        values = given.get((indicator.spec, indicator.output))
        if values is None:
            if indicator.spec not in computed:
                computed[indicator.spec] = compute(indicator.spec, candles)
            values = computed[indicator.spec][indicator.output]
        column = np.array(values, dtype=np.float64)  # a copy: the masking below is ours
        if column.shape != (length,):
            raise ValueError(
                f"{indicator.text}: {len(column)} values for {length} candles "
                f"(spec {indicator.spec}, output {indicator.output})"
            )
        column[: indicator.warmup] = np.nan
        column[np.isinf(column)] = np.nan
        columns[indicator.text] = column
    return columns
