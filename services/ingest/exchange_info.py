"""A minimal ``GET /api/v3/exchangeInfo`` client on the standard library (spec §7.5), for
checking symbols before a run-time subscription. One request per check, weight 20."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from services.common.errors import InvalidArgument, Unavailable


@dataclass(frozen=True, slots=True)
class ExchangeInfo:
    # Symbol → status ("TRADING", "BREAK", "HALT", …).
    statuses: dict[str, str]


class ExchangeInfoHttp:
    def __init__(self, base_url: str, timeout_s: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._timeout_s = timeout_s

    async def exchange_info(self, symbols: tuple[str, ...]) -> ExchangeInfo:
        query = urllib.parse.urlencode(
            {"symbols": json.dumps(list(symbols), separators=(",", ":"))}
        )
        url = f"{self.base_url}/api/v3/exchangeInfo?{query}"
        body = await asyncio.to_thread(self._get, url)
        return ExchangeInfo({item["symbol"]: item["status"] for item in body.get("symbols", [])})

    def _get(self, url: str) -> dict[str, list[dict[str, str]]]:
        try:
            with urllib.request.urlopen(url, timeout=self._timeout_s) as response:
                answer: dict[str, list[dict[str, str]]] = json.load(response)
                return answer
        except urllib.error.HTTPError as error:
            if error.code == 400:
                try:
                    msg = json.load(error).get("msg", "")
                except ValueError:
                    msg = ""
                raise InvalidArgument(f"Binance refused exchangeInfo: {msg}") from None
            raise Unavailable(f"Binance REST at {self.base_url} answered {error.code}") from None
        except (OSError, ValueError) as error:
            raise Unavailable(
                f"cannot reach Binance REST at {self.base_url}: {type(error).__name__}: {error}"
            ) from None
