"""Which Binance market a trade payload comes from, told apart by its own fields.

Pure. Spot ``<symbol>@trade`` payloads carry ``"M"`` (spec §4.1, documented as "Ignore");
USDⓈ-M futures ``<symbol>@trade`` payloads carry ``"X"`` (the order type: ``MARKET``,
``LIQUIDATION``, …) and no ``"M"``. Both use the same symbols (BTCUSDT), so the venue is
what keeps a futures trade from being stored as spot.
"""

from __future__ import annotations

from collections.abc import Mapping

from services.common.names import VENUE_BINANCE, VENUE_BINANCE_USDM


def detect_venue(payload: Mapping[str, object]) -> str:
    """``binance_usdm`` for a USDⓈ-M futures trade payload, ``binance`` (spot) otherwise."""
    if "X" in payload and "M" not in payload:
        return VENUE_BINANCE_USDM
    return VENUE_BINANCE
