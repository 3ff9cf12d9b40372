"""A local HTTP server answering Binance's ``GET /api/v3/exchangeInfo`` (spec §7.5) with the
exchange's JSON shape and its error for an unknown symbol (``{"code":-1121,"msg":"Invalid
symbol."}``, HTTP 400, for the whole request, naming none)."""

from __future__ import annotations

import asyncio
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Self
from urllib.parse import parse_qs, urlsplit

DEFAULT_STATUSES = {
    "BTCUSDT": "TRADING",
    "ETHUSDT": "TRADING",
    "DOTUSDT": "TRADING",
    "BNBBTC": "BREAK",
}


class FakeExchangeInfo:
    """``async with FakeExchangeInfo(statuses) as fake`` serves on ``fake.url``."""

    def __init__(self, statuses: dict[str, str] | None = None) -> None:
        self.statuses = dict(DEFAULT_STATUSES if statuses is None else statuses)
        self.requests: list[list[str]] = []  # the symbols of each request
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeExchangeInfo is not serving; use `async with`")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    async def __aenter__(self) -> Self:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status, body = fake._answer(self.path)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("X-MBX-USED-WEIGHT-1M", str(20 * len(fake.requests)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._server is not None:
            await asyncio.to_thread(self._server.shutdown)
            self._server.server_close()
            self._server = None

    def _answer(self, path: str) -> tuple[int, object]:
        url = urlsplit(path)
        if url.path != "/api/v3/exchangeInfo":
            return 404, {"code": -1, "msg": "Not found."}
        query = parse_qs(url.query)
        if "symbols" in query:
            wanted = json.loads(query["symbols"][0])
        elif "symbol" in query:
            wanted = [query["symbol"][0]]
        else:
            wanted = list(self.statuses)
        self.requests.append(wanted)
        if any(symbol not in self.statuses for symbol in wanted):
            return 400, {"code": -1121, "msg": "Invalid symbol."}
        return 200, {
            "timezone": "UTC",
            "serverTime": 1723161255000,
            "rateLimits": [
                {
                    "rateLimitType": "REQUEST_WEIGHT",
                    "interval": "MINUTE",
                    "intervalNum": 1,
                    "limit": 6000,
                }
            ],
            "exchangeFilters": [],
            "symbols": [
                {"symbol": s, "status": self.statuses[s], "baseAsset": s[:-4], "quoteAsset": s[-4:]}
                for s in wanted
            ],
        }
