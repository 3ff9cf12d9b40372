"""Email: one message per notification over SMTP (stdlib ``smtplib`` in a worker thread).

The channel's target is the recipient; the server, sender address and login come from
settings (``QUANTFLOW_SMTP_*``). SMTP's rules: 4xx replies are transient (retried with
backoff), 5xx permanent. The conversation is driven step by step so a fault is placed:
anything before ``DATA`` cannot have delivered; a lost answer to ``DATA`` may have, and is
retried flagged ``maybe_delivered``. The ``Message-ID`` comes from the idempotency key, so a
repeat is recognisably the same message.
"""

from __future__ import annotations

import asyncio
import random
import re
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate

from services.alerts.channels import message
from services.alerts.channels.outcome import Channel, Delivered, Failed, Outcome, Retry
from services.alerts.channels.retry_policy import RetryPolicy, backoff
from services.common.settings import Settings


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int = 25
    sender: str = "quantflow@localhost"
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    timeout_s: float = 30.0

    def __repr__(self) -> str:
        password = "***" if self.password else None
        return (
            f"SmtpServer(host={self.host!r}, port={self.port}, sender={self.sender!r}, "
            f"username={self.username!r}, password={password!r}, starttls={self.starttls})"
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpServer:
        password = settings.smtp_password
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.smtp_sender,
            username=settings.smtp_username,
            password=password.get_secret_value() if password is not None else None,
            starttls=settings.smtp_starttls,
        )


def email_message(server: SmtpServer, to: str, notice: message.Notice) -> EmailMessage:
    """The message for ``notice``: subject, plain-text body and an idempotent Message-ID."""
    mail = EmailMessage()
    mail["From"] = server.sender
    mail["To"] = to
    mail["Subject"] = message.subject(notice)
    mail["Date"] = formatdate(notice.time_ms / 1000, usegmt=True)
    local_part = re.sub(r"[^A-Za-z0-9._-]", "-", notice.idempotency_key)
    mail["Message-ID"] = f"<{local_part}@quantflow>"
    mail.set_content(message.text(notice))
    return mail


class EmailSender:
    def __init__(
        self,
        server: SmtpServer,
        *,
        policy: RetryPolicy | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._server = server
        self._policy = policy or RetryPolicy()
        self._rng = rng

    def wait_s(self, channel: Channel) -> float:
        """SMTP servers signal load with 4xx replies; there is no limit to keep here."""
        return 0.0

    async def send(self, channel: Channel, notice: message.Notice, attempt: int) -> Outcome:
        mail = email_message(self._server, channel.target, notice)
        return await asyncio.to_thread(self._send, channel.target, mail, attempt)

    def _send(self, to: str, mail: EmailMessage, attempt: int) -> Outcome:
        server = self._server
        in_data = False
        smtp = smtplib.SMTP(timeout=server.timeout_s)
        try:
            smtp.connect(server.host, server.port)
            if server.starttls:
                smtp.starttls()
            smtp.ehlo_or_helo_if_needed()
            if server.username is not None:
                smtp.login(server.username, server.password or "")
            code, reply = smtp.mail(server.sender)
            if code != 250:
                return self._refused("MAIL FROM", code, reply, attempt)
            code, reply = smtp.rcpt(to)
            if code not in (250, 251):
                return self._refused("RCPT TO", code, reply, attempt)
            in_data = True
            code, reply = smtp.data(mail.as_bytes())
            if code != 250:
                return self._refused("DATA", code, reply, attempt)
        except smtplib.SMTPNotSupportedError as error:
            return Failed(f"SMTP server: {error}")
        except smtplib.SMTPResponseException as error:
            return self._refused("SMTP", error.smtp_code, error.smtp_error, attempt)
        except (smtplib.SMTPException, OSError) as error:
            # Once DATA went out, a lost answer may hide a delivered message.
            reason = f"SMTP connection: {type(error).__name__} {error}".strip()
            return backoff(self._policy, attempt, reason, maybe_delivered=in_data, rng=self._rng)
        finally:
            _close(smtp)
        return Delivered()

    def _refused(self, step: str, code: int, reply: bytes | str, attempt: int) -> Retry | Failed:
        text = reply.decode(errors="replace") if isinstance(reply, bytes) else reply
        reason = f"{step} refused: {code} {' '.join(text.split())}"
        if 400 <= code < 500:
            return backoff(self._policy, attempt, reason, rng=self._rng)
        return Failed(reason)


def _close(smtp: smtplib.SMTP) -> None:
    """QUIT politely; after a 250 for DATA the message is the server's, whatever QUIT says."""
    try:
        if smtp.sock is not None:
            smtp.quit()
    except (smtplib.SMTPException, OSError):
        pass
    finally:
        smtp.close()
