"""A cap on HTTP request bodies: the gateway answers 413 rather than read megabytes.

Checked twice: the declared ``Content-Length`` up front, and the bytes actually received
(a chunked body declares none), so no more than the cap is ever read.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# A GraphQL document within MAX_TOKENS plus its variables fits many times over.
MAX_BODY_BYTES = 64 * 1024


class BodySizeLimit:
    """ASGI middleware: HTTP requests whose body exceeds ``max_bytes`` get 413 with a
    GraphQL-shaped JSON error; WebSocket and lifespan scopes pass through.

    The body is read (up to the cap) before the app runs and handed to it whole: the
    GraphQL view buffers it anyway, and the app never sees a body cut short.
    """

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._reject(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away before sending its body
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_bytes:
                await self._reject(scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        pending: list[Message] = [{"type": "http.request", "body": b"".join(chunks)}]

        async def replay() -> Message:
            # The whole body first; after it, whatever comes next (a disconnect).
            return pending.pop() if pending else await receive()

        await self.app(scope, replay, send)

    async def _reject(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = f"request body exceeds {self.max_bytes} bytes; send a smaller query"
        response = JSONResponse(
            {"errors": [{"message": message, "extensions": {"code": "PAYLOAD_TOO_LARGE"}}]},
            status_code=413,
            headers={"Connection": "close"},
        )
        await response(scope, receive, send)
