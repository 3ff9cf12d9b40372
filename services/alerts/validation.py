"""What a channel or a rule must be before it is stored. Pure: no grpc, asyncpg or nats.

A rule is checked at creation and at every update, so that nothing the evaluator cannot
evaluate ever reaches it:

- ``condition``: parsed by the one condition language (:func:`parse_condition`); a syntax
  error, an unknown indicator or a nonsense parameter is refused naming the problem and
  its column (``… at column N``). Or a stale-feed rule, ``no_trade(5m)``
  (:mod:`services.alerts.stale_feed`).
- ``symbol``: Binance's spelling (:func:`parse_symbol`, upper-cased); whether the stack
  knows it is the caller's check (:class:`SymbolCatalogue` in ``rpc``), since it needs the
  settings and storage.
- ``venue``: ``binance`` (empty) or ``binance_usdm``.
- ``interval``: exactly for candle conditions (``rsi(14) < 30`` needs one, ``price > 2680``
  must not have one) and one of Binance's intervals.
- ``cooldown_seconds`` ≥ 0; ``expires_ms``, when given, in the future; ``rearm`` finite.
- ``channel_ids``: UUIDs, each at most once; that they exist and belong to the owner is the
  store's check (it holds them).
"""

from __future__ import annotations

import math
import re
import uuid
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit

from services.alerts.channels.outcome import ChannelKind
from services.alerts.stale_feed import NAME, is_stale_condition, parse_stale_condition
from services.common import names
from services.common.conditions import Condition, ConditionError, Driver, parse_condition
from services.common.errors import InvalidArgument
from services.common.symbols import parse_symbol

LOCAL_OWNER = "local"
MAX_NAME_CHARS = 100
MAX_CONDITION_CHARS = 1000
MAX_CHANNELS_PER_RULE = 20
# A day's worth of seconds times 365: anything longer is a typo, not a cooldown.
MAX_COOLDOWN_SECONDS = 365 * 86_400

_EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+")
# A Telegram chat: a numeric id (negative for groups) or a public @channelname.
_TELEGRAM_CHAT_RE = re.compile(r"-?\d{1,20}|@[A-Za-z][A-Za-z0-9_]{3,31}")


class Mode(StrEnum):
    ONCE = "ONCE"
    RECURRING = "RECURRING"


def owner_of(given: str) -> str:
    """Whose objects a request is about: empty means the local user."""
    owner = given.strip()
    if len(owner) > 200:
        raise InvalidArgument("owner: at most 200 characters")
    return owner or LOCAL_OWNER


def parse_id(text: str, what: str) -> uuid.UUID:
    """A UUID id; INVALID_ARGUMENT naming ``what`` for anything else."""
    try:
        return uuid.UUID(text.strip())
    except ValueError:
        raise InvalidArgument(f"{what}: {text[:60]!r} is not an id (a UUID)") from None


@dataclass(frozen=True)
class ChannelInput:
    kind: ChannelKind
    name: str
    target: str
    secret: str


def check_channel(kind: str, name: str, target: str, secret: str) -> ChannelInput:
    """The channel as it will be stored, or INVALID_ARGUMENT naming the field."""
    try:
        channel_kind = ChannelKind(kind)
    except ValueError:
        raise InvalidArgument(
            f"kind: one of {', '.join(k.value for k in ChannelKind)}, not {kind!r}"
        ) from None
    name = name.strip()
    if not name or len(name) > MAX_NAME_CHARS:
        raise InvalidArgument(f"name: 1 to {MAX_NAME_CHARS} characters")
    target = target.strip()
    if channel_kind is ChannelKind.TELEGRAM:
        if not _TELEGRAM_CHAT_RE.fullmatch(target):
            raise InvalidArgument(
                "target: a Telegram chat id (e.g. 123456789 or -1001234567890) or @channelname"
            )
        if not secret.strip():
            raise InvalidArgument("secret: the Telegram bot token is required")
    elif channel_kind is ChannelKind.EMAIL:
        if not _EMAIL_RE.fullmatch(target) or len(target) > 254:
            raise InvalidArgument(f"target: {target[:60]!r} is not an email address")
    else:
        _check_url(target, channel_kind)
        if channel_kind is ChannelKind.WEBHOOK and not secret.strip():
            raise InvalidArgument("secret: a webhook's signing key is required (HMAC-SHA256)")
    return ChannelInput(channel_kind, name, target, secret.strip())


def _check_url(target: str, kind: ChannelKind) -> None:
    parts = urlsplit(target)
    if parts.scheme not in ("http", "https") or not parts.hostname or len(target) > 2000:
        noun = "a Discord webhook URL" if kind is ChannelKind.DISCORD else "an http(s) URL"
        raise InvalidArgument(f"target: {noun}, not {target[:60]!r}")


@dataclass(frozen=True)
class RuleInput:
    """A checked rule. ``interval`` is None for trade conditions."""

    venue: str
    symbol: str
    condition: str
    interval: str | None
    mode: Mode
    cooldown_ms: int
    rearm: float | None
    expires_ms: int | None
    channel_ids: tuple[uuid.UUID, ...]
    # The parsed condition, or None for a stale-feed rule (``no_trade(5m)``), whose silence
    # is ``stale_after_ms``.
    parsed: Condition | None
    stale_after_ms: int | None = None


def check_condition(text: str, interval: str) -> tuple[Condition, str | None]:
    """The parsed condition and its interval (None for trade conditions); INVALID_ARGUMENT
    naming the problem and, for the condition itself, its column."""
    if not text.strip():
        raise InvalidArgument("condition: required, e.g. 'price crosses_above 2680'")
    if len(text) > MAX_CONDITION_CHARS:
        raise InvalidArgument(f"condition: at most {MAX_CONDITION_CHARS} characters")
    try:
        parsed = parse_condition(text)
    except ConditionError as error:
        raise InvalidArgument(f"condition: {error}") from error
    interval = interval.strip()
    if parsed.driver is Driver.CANDLES:
        if not interval:
            raise InvalidArgument(
                f"interval: {text.strip()!r} is evaluated on closed candles, so it needs an "
                f"interval ({' '.join(names.KLINE_INTERVALS)})"
            )
        if interval not in names.KLINE_INTERVALS:
            raise InvalidArgument(
                f"interval: {interval!r} is not a Binance interval "
                f"({' '.join(names.KLINE_INTERVALS)})"
            )
        return parsed, interval
    if interval:
        raise InvalidArgument(
            f"interval: {text.strip()!r} is evaluated on every trade; leave the interval "
            f"empty (an interval is for candle conditions such as 'rsi(14) < 30')"
        )
    return parsed, None


def check_venue(venue: str) -> str:
    venue = venue.strip() or names.VENUE_BINANCE
    if venue not in names.VENUES:
        raise InvalidArgument(f"venue: one of {', '.join(names.VENUES)}, not {venue!r}")
    return venue


def check_rule(
    *,
    symbol: str,
    venue: str,
    condition: str,
    interval: str,
    mode: str,
    cooldown_seconds: int,
    rearm: float | None,
    expires_ms: int | None,
    channel_ids: list[str],
    now_ms: int,
) -> RuleInput:
    """The rule as it will be stored, or INVALID_ARGUMENT naming the field and the problem."""
    try:
        checked_symbol = parse_symbol(symbol)
    except InvalidArgument as error:
        raise InvalidArgument(f"symbol: {error}") from None
    parsed: Condition | None = None
    stale_after_ms: int | None = None
    if is_stale_condition(condition):
        stale_after_ms = parse_stale_condition(condition)
        if interval.strip():
            raise InvalidArgument(f"interval: {NAME}(…) watches trades; leave the interval empty")
        checked_interval = None
    else:
        parsed, checked_interval = check_condition(condition, interval)
    if cooldown_seconds < 0 or cooldown_seconds > MAX_COOLDOWN_SECONDS:
        raise InvalidArgument(
            f"cooldownSeconds: 0 to {MAX_COOLDOWN_SECONDS} seconds, not {cooldown_seconds}"
        )
    if rearm is not None and not math.isfinite(rearm):
        raise InvalidArgument(f"rearm: a price level, not {rearm}")
    if expires_ms is not None and expires_ms <= now_ms:
        raise InvalidArgument(
            f"expiresAt: must be in the future ({expires_ms} ms is not after now, {now_ms} ms)"
        )
    ids = tuple(parse_id(text, "channelIds") for text in channel_ids)
    if len(set(ids)) != len(ids):
        raise InvalidArgument("channelIds: each channel at most once")
    if len(ids) > MAX_CHANNELS_PER_RULE:
        raise InvalidArgument(f"channelIds: at most {MAX_CHANNELS_PER_RULE} channels")
    return RuleInput(
        venue=check_venue(venue),
        symbol=checked_symbol,
        condition=condition.strip(),
        interval=checked_interval,
        mode=Mode(mode),
        cooldown_ms=cooldown_seconds * 1000,
        rearm=rearm,
        expires_ms=expires_ms,
        channel_ids=ids,
        parsed=parsed,
        stale_after_ms=stale_after_ms,
    )
