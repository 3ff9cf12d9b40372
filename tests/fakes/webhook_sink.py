"""A local webhook receiver that records every POST and checks its signature.

The check is computed here from first principles (HMAC-SHA256 of the raw body with the
shared secret, ``sha256=<hex>``), not with the code under test. :meth:`fail_next` answers
the next requests with a status (429/503 with ``Retry-After`` if given); ``delay_next``
makes the next answers late *after* recording the request, so a client's read timeout
loses the answer for a delivered notification.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.loopback import LoopbackServer


@dataclass
class ReceivedHook:
    body: bytes
    headers: dict[str, str]
    signature_ok: bool
    status: int

    @property
    def payload(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.body)
        return loaded


@dataclass
class _Forced:
    status: int
    count: int
    retry_after: int | None


@dataclass
class WebhookSink:
    secret: str
    requests: list[ReceivedHook] = field(default_factory=list)
    _forced: list[_Forced] = field(default_factory=list)
    _delays: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        app = Starlette(routes=[Route("/hook", self._receive, methods=["POST"])])
        self._server = LoopbackServer(app)

    @property
    def url(self) -> str:
        return f"{self._server.url}/hook"

    async def __aenter__(self) -> WebhookSink:
        await self._server.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._server.__aexit__(None, None, None)

    def fail_next(self, status: int, count: int = 1, retry_after: int | None = None) -> None:
        self._forced.append(_Forced(status, count, retry_after))

    def delay_next(self, seconds: float, count: int = 1) -> None:
        self._delays.extend([seconds] * count)

    def accepted(self) -> list[ReceivedHook]:
        """Requests answered 2xx whose signature verified."""
        return [r for r in self.requests if r.status < 300 and r.signature_ok]

    async def _receive(self, request: Request) -> Response:
        body = await request.body()
        expected = "sha256=" + hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
        given = request.headers.get("X-QuantFlow-Signature", "")
        signature_ok = hmac.compare_digest(expected, given)
        response = self._answer(signature_ok)
        self.requests.append(
            ReceivedHook(body, dict(request.headers), signature_ok, response.status_code)
        )
        if self._delays:
            await asyncio.sleep(self._delays.pop(0))
        return response

    def _answer(self, signature_ok: bool) -> Response:
        if not signature_ok:
            return JSONResponse({"error": "bad signature"}, 401)
        if self._forced:
            forced = self._forced[0]
            forced.count -= 1
            if forced.count <= 0:
                self._forced.pop(0)
            headers = {} if forced.retry_after is None else {"Retry-After": str(forced.retry_after)}
            return JSONResponse({"error": f"status {forced.status}"}, forced.status, headers)
        return JSONResponse({"received": True})
