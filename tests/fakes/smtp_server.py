"""A local SMTP server (aiosmtpd) on loopback that records what it accepts and answers as
told: :meth:`FakeSmtpServer.reply_next` makes ``RCPT`` or ``DATA`` answer a given reply
(``451 4.3.0 Try again later``, ``550 5.1.1 User unknown`` …); ``data_delay_s`` makes the
answer to ``DATA`` late (the message is already received), so a client's timeout loses the
answer for a delivered message."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from types import TracebackType
from typing import Self

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


@dataclass
class ReceivedMail:
    sender: str
    recipients: list[str]
    message: Message


@dataclass
class FakeSmtpServer:
    mails: list[ReceivedMail] = field(default_factory=list)
    data_delay_s: float = 0.0
    # Addresses answered ``550 5.1.1`` at RCPT.
    unknown_recipients: set[str] = field(default_factory=set)
    _replies: dict[str, list[str]] = field(default_factory=dict)
    _controller: Controller | None = None

    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def port(self) -> int:
        if self._controller is None:
            raise RuntimeError("FakeSmtpServer is not serving; use `with`")
        return int(self._controller.port)

    def reply_next(self, step: str, reply: str, count: int = 1) -> None:
        """Answer the next ``count`` ``step`` commands (``"RCPT"`` or ``"DATA"``) with
        ``reply``."""
        self._replies.setdefault(step, []).extend([reply] * count)

    def __enter__(self) -> Self:
        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=_free_port())
        self._controller.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._controller is not None:
            self._controller.stop()

    def scripted(self, step: str) -> str | None:
        replies = self._replies.get(step)
        return replies.pop(0) if replies else None


class _Handler:
    def __init__(self, server: FakeSmtpServer) -> None:
        self._server = server

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if (reply := self._server.scripted("RCPT")) is not None:
            return reply
        if address in self._server.unknown_recipients:
            return "550 5.1.1 User unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if (reply := self._server.scripted("DATA")) is not None:
            return reply
        content = envelope.original_content or b""
        self._server.mails.append(
            ReceivedMail(
                str(envelope.mail_from),
                list(envelope.rcpt_tos),
                message_from_bytes(content),
            )
        )
        if self._server.data_delay_s:
            await asyncio.sleep(self._server.data_delay_s)
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
