"""The words and JSON of a firing: one pure formatter for every channel.

Telegram and Discord get the same plain text (no markup, so a condition's ``<`` or ``*``
needs no escaping), cut to each service's length limit; email gets a one-line subject and
that text; a webhook gets JSON with camelCase fields, the same bytes on every retry.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

# Service limits on one message's text.
TELEGRAM_MAX_CHARS = 4096
DISCORD_MAX_CHARS = 2000
SUBJECT_MAX_CHARS = 200


@dataclass(frozen=True)
class Notice:
    """One notification of one firing. ``idempotency_key`` is fixed when the notification
    is written to the outbox and is the same on every retry; ``trade_id`` is set for
    trade-driven rules, ``value`` (the condition's left-hand value, a decimal string) when
    the evaluator reports one. ``price`` is a decimal string, as stored."""

    idempotency_key: str
    rule_id: str
    symbol: str
    condition: str
    price: str
    time_ms: int
    trade_id: int | None = None
    value: str | None = None


def event_time(time_ms: int) -> str:
    """``1723118400123`` → ``2024-08-08 12:00:00.123 UTC``."""
    moment = datetime.fromtimestamp(time_ms / 1000, UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{time_ms % 1000:03d} UTC"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def text(notice: Notice, limit: int = TELEGRAM_MAX_CHARS) -> str:
    """The chat message: what held, at which price and when, and which rule said so."""
    lines = [f"{notice.symbol}: {notice.condition}"]
    event = f"price {notice.price} at {event_time(notice.time_ms)}"
    if notice.trade_id is not None:
        event += f" (trade {notice.trade_id})"
    lines.append(event)
    if notice.value is not None:
        lines.append(f"value {notice.value}")
    lines.append(f"rule {notice.rule_id}")
    return _cut("\n".join(lines), limit)


def subject(notice: Notice) -> str:
    """An email subject: one line, whatever the condition holds."""
    one_line = " ".join(f"{notice.symbol}: {notice.condition}".split())
    return _cut(f"QuantFlow alert {one_line}", SUBJECT_MAX_CHARS)


def webhook_payload(notice: Notice) -> dict[str, object]:
    """The webhook JSON object: ruleId, symbol, condition, price, time (epoch ms), tradeId
    (null for candle-driven rules), value and idempotencyKey."""
    return {
        "idempotencyKey": notice.idempotency_key,
        "ruleId": notice.rule_id,
        "symbol": notice.symbol,
        "condition": notice.condition,
        "price": notice.price,
        "time": notice.time_ms,
        "tradeId": notice.trade_id,
        "value": notice.value,
    }


def webhook_body(notice: Notice) -> bytes:
    """The exact bytes POSTed (and signed): compact UTF-8 JSON with sorted keys, so one
    notification always has one body and one signature."""
    payload = webhook_payload(notice)
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
