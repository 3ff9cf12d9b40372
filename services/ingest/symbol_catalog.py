"""Which symbols exist and trade on Binance, asked of its ``exchangeInfo`` (spec §7.5).

Binance accepts a subscription to a symbol it does not have and then sends nothing, forever
(spec §3, observed), so the configured symbols (at start) and run-time subscriptions are
checked here first.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import Protocol

from services.common.errors import InvalidArgument, Unavailable

log = logging.getLogger(__name__)

# How long a start waits for exchangeInfo before going on unchecked (a Retry-After or a ban
# can be far longer; the capture itself then reports what is wrong).
START_CHECK_TIMEOUT_S = 15.0


class SymbolStatuses(Protocol):
    """What ``exchangeInfo`` says about symbols: symbol → status (``TRADING``, ``BREAK`` …)."""

    @property
    def statuses(self) -> Mapping[str, str]: ...


class ExchangeInfoClient(Protocol):
    """A Binance REST client that can ask ``GET /api/v3/exchangeInfo?symbols=[…]``; an
    unknown symbol makes it raise :class:`InvalidArgument` (Binance's -1121)."""

    async def exchange_info(self, symbols: tuple[str, ...]) -> SymbolStatuses: ...


class SymbolCatalog(Protocol):
    async def check(self, symbols: Sequence[str]) -> None:
        """Return if every symbol is trading; raise InvalidArgument naming those that are
        not."""
        ...


class ExchangeSymbolCatalog:
    """:class:`SymbolCatalog` over Binance's ``exchangeInfo``."""

    def __init__(self, client: ExchangeInfoClient) -> None:
        self._client = client

    async def check(self, symbols: Sequence[str]) -> None:
        wanted = tuple(dict.fromkeys(symbols))
        try:
            info = await self._client.exchange_info(wanted)
        except InvalidArgument:
            # Binance refuses the whole list for one unknown symbol without saying which:
            # ask again one by one to name it.
            unknown = [s for s in wanted if not await self._exists(s)]
            raise InvalidArgument(
                f"unknown symbol{'s' if len(unknown) > 1 else ''} on Binance: "
                f"{', '.join(unknown) or ', '.join(wanted)}"
            ) from None
        problems = []
        for symbol in wanted:
            status = info.statuses.get(symbol)
            if status is None:
                problems.append(f"{symbol} is not listed on Binance")
            elif status != "TRADING":
                problems.append(f"{symbol} is not trading on Binance (status {status})")
        if problems:
            raise InvalidArgument("; ".join(problems))

    async def _exists(self, symbol: str) -> bool:
        try:
            await self._client.exchange_info((symbol,))
        except InvalidArgument:
            return False
        return True


async def check_configured_symbols(
    catalog: SymbolCatalog,
    symbols: Sequence[str],
    setting: str,
    timeout_s: float = START_CHECK_TIMEOUT_S,
) -> None:
    """Check the symbols ``setting`` (a variable or flag) names before anything connects.

    An unknown or non-trading symbol raises :class:`InvalidArgument` naming the setting and
    the symbol. If exchangeInfo cannot be asked (offline, refused, too slow) this only warns:
    capture goes on, and an unreachable exchange shows in ``quantflow status`` as ever.
    """
    try:
        await asyncio.wait_for(catalog.check(symbols), timeout_s)
    except InvalidArgument as error:
        raise InvalidArgument(f"{setting}: {error}") from None
    except (Unavailable, TimeoutError) as error:
        log.warning(
            "could not check %s (%s) against Binance's exchangeInfo: %s; going on unchecked",
            setting,
            ",".join(symbols),
            str(error) or f"no answer in {timeout_s:.0f}s",
        )
