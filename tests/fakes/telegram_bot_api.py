"""A local fake of the Telegram Bot API's ``sendMessage``, answering as Telegram does.

Bodies and statuses are Telegram's (core.telegram.org/bots/api#making-requests): 200
``{"ok":true,"result":<Message>}``; errors ``{"ok":false,"error_code":N,"description":...}``
— 400 ``Bad Request: chat not found`` / ``message text is empty`` / a group upgraded to a
supergroup (``parameters.migrate_to_chat_id``), 401 ``Unauthorized`` (a well-formed token no
bot has), 403 ``Forbidden: bot was blocked by the user``, 404 ``Not Found`` (a token that is
not ``<digits>:<key>``), 429 ``Too Many Requests: retry after N`` with
``parameters.retry_after``, 500 ``Internal Server Error`` and nginx's HTML 502.

Flood control: a chat sent to again less than ``chat_interval_s`` after its last message
gets a 429 with ``retry_after``; :meth:`fail_next` forces any status. A message sent to a
chat still inside a 429's ``retry_after`` is counted in ``early_requests`` (a well-behaved
client keeps it at 0). ``delay_s`` makes each answer late, after the message is accepted,
so a client's read timeout loses an answer for a delivered message.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from tests.fakes.loopback import LoopbackServer

BOT_ID = 7000000001
_TOKEN = re.compile(r"^\d+:[A-Za-z0-9_-]{20,}$")
BAD_GATEWAY_HTML = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.18.0</center>\r\n"
    "</body>\r\n</html>\r\n"
)


@dataclass
class _Forced:
    status: int
    count: int
    retry_after: int


@dataclass
class SentMessage:
    chat_id: str
    text: str
    at: float


@dataclass
class FakeTelegramBotApi:
    """``async with`` serves it; ``url`` is the API base (``https://api.telegram.org``'s
    stand-in). ``tokens``: bots that exist; ``chats``: chats they can write to."""

    tokens: set[str] = field(default_factory=set)
    chats: set[str] = field(default_factory=set)
    blocked_chats: set[str] = field(default_factory=set)
    # Old group id → the supergroup it became.
    migrated_chats: dict[str, int] = field(default_factory=dict)
    chat_interval_s: float = 0.0
    flood_retry_after: int = 3
    delay_s: float = 0.0
    clock: Callable[[], float] = time.monotonic
    messages: list[SentMessage] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    early_requests: int = 0
    _forced: list[_Forced] = field(default_factory=list)
    _blocked_until: dict[str, float] = field(default_factory=dict)
    _last: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        app = Starlette(
            routes=[Route("/bot{token}/sendMessage", self._send_message, methods=["POST"])]
        )
        self._server = LoopbackServer(app)

    @property
    def url(self) -> str:
        return self._server.url

    async def __aenter__(self) -> FakeTelegramBotApi:
        await self._server.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._server.__aexit__(None, None, None)

    def fail_next(self, status: int, count: int = 1, retry_after: int = 3) -> None:
        """Answer the next ``count`` messages with ``status`` (429: with ``retry_after``)."""
        self._forced.append(_Forced(status, count, retry_after))

    def texts(self, chat_id: str) -> list[str]:
        return [m.text for m in self.messages if m.chat_id == chat_id]

    async def _send_message(self, request: Request) -> Response:
        response = self._answer(request.path_params["token"], await request.json())
        self.statuses.append(response.status_code)
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        return response

    def _answer(self, token: str, body: dict[str, Any]) -> Response:
        if not _TOKEN.match(token):
            return _error(404, "Not Found")
        if token not in self.tokens:
            return _error(401, "Unauthorized")
        chat_id = str(body.get("chat_id", ""))
        now = self.clock()
        if now < self._blocked_until.get(chat_id, 0.0):
            self.early_requests += 1
            return self._too_many(chat_id, math.ceil(self._blocked_until[chat_id] - now))
        if self._forced:
            forced = self._forced[0]
            forced.count -= 1
            if forced.count <= 0:
                self._forced.pop(0)
            if forced.status == 429:
                return self._too_many(chat_id, forced.retry_after)
            if forced.status == 502:
                return HTMLResponse(BAD_GATEWAY_HTML, 502)
            return _error(forced.status, _DESCRIPTIONS.get(forced.status, "Error"))
        if chat_id in self.migrated_chats:
            return _error(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": self.migrated_chats[chat_id]},
            )
        if chat_id in self.blocked_chats:
            return _error(403, "Forbidden: bot was blocked by the user")
        if chat_id not in self.chats:
            return _error(400, "Bad Request: chat not found")
        text = str(body.get("text", ""))
        if not text.strip():
            return _error(400, "Bad Request: message text is empty")
        last = self._last.get(chat_id)
        if last is not None and now - last < self.chat_interval_s:
            return self._too_many(chat_id, self.flood_retry_after)
        self._last[chat_id] = now
        self.messages.append(SentMessage(chat_id, text, now))
        return JSONResponse({"ok": True, "result": self._message(chat_id, text)})

    def _too_many(self, chat_id: str, retry_after: int) -> Response:
        until = self.clock() + retry_after
        self._blocked_until[chat_id] = max(self._blocked_until.get(chat_id, 0.0), until)
        return _error(
            429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}
        )

    def _message(self, chat_id: str, text: str) -> dict[str, Any]:
        return {
            "message_id": len(self.messages),
            "from": {
                "id": BOT_ID,
                "is_bot": True,
                "first_name": "QuantFlow",
                "username": "quantflow_alerts_bot",
            },
            "chat": {"id": int(chat_id), "first_name": "Ada", "type": "private"},
            "date": int(time.time()),
            "text": text,
        }


_DESCRIPTIONS = {
    400: "Bad Request: chat not found",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    500: "Internal Server Error",
}


def _error(status: int, description: str, parameters: dict[str, Any] | None = None) -> Response:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if parameters is not None:
        body["parameters"] = parameters
    return JSONResponse(body, status)
