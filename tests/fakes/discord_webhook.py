"""A local fake of Discord's Execute Webhook (``POST /api/webhooks/{id}/{token}``),
answering as Discord does.

Bodies and statuses are Discord's (discord.com/developers/docs/topics/opcodes-and-status-codes
and /topics/rate-limits): 200 with the message object (``?wait=true``) or 204; 400 ``{"message":
"Cannot send an empty message", "code": 50006}`` and ``Invalid Form Body`` (50035) for content
over 2000 characters; 401 ``Invalid Webhook Token`` (50027); 403 ``Missing Permissions``
(50013); 404 ``Unknown Webhook`` (10015); 429 ``{"message": "You are being rate limited.",
"retry_after": <seconds, float>, "global": <bool>}`` with ``Retry-After``; 500 and 502.

Every webhook has a bucket of ``bucket_limit`` messages per ``bucket_window_s``, reported
on each answer in ``X-RateLimit-Limit``, ``-Remaining``, ``-Reset``, ``-Reset-After`` and
``-Bucket``; a message past it gets the 429 and is counted in ``over_limit``. Requests that
Discord would hold against a client — any after a 401/403/404 for the same webhook — are
counted in ``invalid_requests`` (Discord bans IPs that send too many).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.loopback import LoopbackServer

_ERRORS: dict[int, tuple[str, int]] = {
    400: ("Cannot send an empty message", 50006),
    401: ("Invalid Webhook Token", 50027),
    403: ("Missing Permissions", 50013),
    404: ("Unknown Webhook", 10015),
    500: ("500: Internal Server Error", 0),
    502: ("502: Bad Gateway", 0),
}


@dataclass
class _Forced:
    status: int
    count: int
    retry_after: float
    is_global: bool


@dataclass
class PostedMessage:
    webhook_id: str
    content: str
    at: float


@dataclass
class FakeDiscordWebhooks:
    """``async with`` serves it; :meth:`webhook_url` is a webhook's URL. ``webhooks``: id →
    token of the webhooks that exist."""

    webhooks: dict[str, str] = field(default_factory=dict)
    bucket_limit: int = 5
    bucket_window_s: float = 2.0
    clock: Callable[[], float] = time.time
    messages: list[PostedMessage] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    over_limit: int = 0
    invalid_requests: int = 0
    _forced: list[_Forced] = field(default_factory=list)
    _windows: dict[str, tuple[float, int]] = field(default_factory=dict)
    _refused: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        app = Starlette(
            routes=[Route("/api/webhooks/{webhook_id}/{token}", self._execute, methods=["POST"])]
        )
        self._server = LoopbackServer(app)

    def webhook_url(self, webhook_id: str, token: str | None = None) -> str:
        return f"{self._server.url}/api/webhooks/{webhook_id}/{token or self.webhooks[webhook_id]}"

    async def __aenter__(self) -> FakeDiscordWebhooks:
        await self._server.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._server.__aexit__(None, None, None)

    def fail_next(
        self, status: int, count: int = 1, retry_after: float = 1.0, is_global: bool = False
    ) -> None:
        """Answer the next ``count`` messages with ``status`` (429: with ``retry_after``)."""
        self._forced.append(_Forced(status, count, retry_after, is_global))

    def contents(self, webhook_id: str) -> list[str]:
        return [m.content for m in self.messages if m.webhook_id == webhook_id]

    async def _execute(self, request: Request) -> Response:
        webhook_id = request.path_params["webhook_id"]
        if webhook_id in self._refused:
            self.invalid_requests += 1
        response = self._answer(webhook_id, request.path_params["token"], request)
        body = await request.json()
        if response is None:
            response = self._post(webhook_id, body, request.query_params.get("wait") == "true")
        if response.status_code in (401, 403, 404):
            self._refused.add(webhook_id)
        self.statuses.append(response.status_code)
        return response

    def _answer(self, webhook_id: str, token: str, request: Request) -> Response | None:
        if webhook_id not in self.webhooks:
            return _error(404)
        if token != self.webhooks[webhook_id]:
            return _error(401)
        if self._forced:
            forced = self._forced[0]
            forced.count -= 1
            if forced.count <= 0:
                self._forced.pop(0)
            if forced.status == 429:
                return _rate_limited(forced.retry_after, forced.is_global)
            return _error(forced.status)
        return None

    def _post(self, webhook_id: str, body: dict[str, Any], wait: bool) -> Response:
        content = str(body.get("content") or "")
        if not content.strip():
            return _error(400)
        if len(content) > 2000:
            return JSONResponse(
                {
                    "message": "Invalid Form Body",
                    "code": 50035,
                    "errors": {
                        "content": {
                            "_errors": [
                                {
                                    "code": "BASE_TYPE_MAX_LENGTH",
                                    "message": "Must be 2000 or fewer in length.",
                                }
                            ]
                        }
                    },
                },
                400,
            )
        now = self.clock()
        started, used = self._windows.get(webhook_id, (now, 0))
        if now >= started + self.bucket_window_s:
            started, used = now, 0
        reset_after = started + self.bucket_window_s - now
        if used >= self.bucket_limit:
            self.over_limit += 1
            response = _rate_limited(reset_after, False)
            self._bucket_headers(response, webhook_id, 0, started, reset_after)
            return response
        used += 1
        self._windows[webhook_id] = (started, used)
        self.messages.append(PostedMessage(webhook_id, content, now))
        response = (
            JSONResponse(self._message(webhook_id, content, now)) if wait else Response(None, 204)
        )
        self._bucket_headers(response, webhook_id, self.bucket_limit - used, started, reset_after)
        return response

    def _bucket_headers(
        self, response: Response, webhook_id: str, remaining: int, started: float, after: float
    ) -> None:
        response.headers["X-RateLimit-Limit"] = str(self.bucket_limit)
        response.headers["X-RateLimit-Remaining"] = str(remaining)
        response.headers["X-RateLimit-Reset"] = f"{started + self.bucket_window_s:.3f}"
        response.headers["X-RateLimit-Reset-After"] = f"{after:.3f}"
        response.headers["X-RateLimit-Bucket"] = f"webhook-{webhook_id}"

    def _message(self, webhook_id: str, content: str, now: float) -> dict[str, Any]:
        return {
            "id": str(1_200_000_000_000_000_000 + len(self.messages)),
            "type": 0,
            "content": content,
            "channel_id": "1100000000000000001",
            "author": {
                "bot": True,
                "id": webhook_id,
                "username": "QuantFlow",
                "avatar": None,
                "discriminator": "0000",
            },
            "attachments": [],
            "embeds": [],
            "mentions": [],
            "mention_roles": [],
            "pinned": False,
            "mention_everyone": False,
            "tts": False,
            "timestamp": datetime.fromtimestamp(now, UTC).isoformat(),
            "edited_timestamp": None,
            "flags": 0,
            "components": [],
            "webhook_id": webhook_id,
        }


def _error(status: int) -> Response:
    message, code = _ERRORS.get(status, (f"{status}: Error", 0))
    return JSONResponse({"message": message, "code": code}, status)


def _rate_limited(retry_after: float, is_global: bool) -> Response:
    response = JSONResponse(
        {"message": "You are being rate limited.", "retry_after": retry_after, "global": is_global},
        429,
    )
    response.headers["Retry-After"] = str(max(1, math.ceil(retry_after)))
    response.headers["X-RateLimit-Scope"] = "global" if is_global else "user"
    if is_global:
        response.headers["X-RateLimit-Global"] = "true"
    return response
