"""Run-time subscription requests (symbols × stream kinds) ↔ Binance stream names, and what
they changed in the configured streams. Pure."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from services.common.errors import InvalidArgument
from services.common.names import stream_kind
from services.common.symbols import parse_symbol


@dataclass(frozen=True, slots=True)
class StreamRequest:
    """A validated request: upper-case symbols, stream kinds, and their Binance names."""

    symbols: tuple[str, ...]
    stream_names: tuple[str, ...]


def stream_request(symbols: Iterable[str], streams: Iterable[str]) -> StreamRequest:
    """Check ``symbols`` (``BTCUSDT`` …) and ``streams`` (``trade``, ``kline_1m`` …) and name
    every combination as Binance does (``btcusdt@kline_1m``); InvalidArgument names the
    first bad value."""
    checked = tuple(dict.fromkeys(parse_symbol(s) for s in symbols))
    if not checked:
        raise InvalidArgument("give at least one symbol, e.g. BTCUSDT")
    kinds: list[str] = []
    for kind in dict.fromkeys(streams):
        try:
            stream_kind(kind)
            kinds.append(kind)
        except ValueError as error:
            raise InvalidArgument(str(error)) from None
    if not kinds:
        raise InvalidArgument("give at least one stream, e.g. trade")
    return StreamRequest(checked, tuple(f"{s.lower()}@{k}" for s in checked for k in kinds))


def describe_stream(name: str) -> tuple[str, str]:
    """``btcusdt@kline_1m`` → (``BTCUSDT``, ``kline_1m``)."""
    symbol, _, kind = name.partition("@")
    return symbol.upper(), kind


@dataclass(frozen=True, slots=True)
class SubscriptionChanges:
    """What run-time requests changed in the configured streams
    (``QUANTFLOW_SYMBOLS`` × ``QUANTFLOW_STREAMS``): the streams subscribed beyond them, and
    the configured ones unsubscribed.

    Kept as changes rather than as the whole set, so that a restart with other settings
    still captures what its settings add, minus what a user dropped on purpose.
    """

    added: frozenset[str] = frozenset()
    removed: frozenset[str] = frozenset()

    def after_subscribe(
        self, configured: Collection[str], streams: Iterable[str]
    ) -> SubscriptionChanges:
        wanted = frozenset(streams)
        return SubscriptionChanges(
            self.added | (wanted - frozenset(configured)), self.removed - wanted
        )

    def after_unsubscribe(
        self, configured: Collection[str], streams: Iterable[str]
    ) -> SubscriptionChanges:
        dropped = frozenset(streams)
        return SubscriptionChanges(
            self.added - dropped, self.removed | (dropped & frozenset(configured))
        )

    def applied_to(self, configured: Iterable[str]) -> list[str]:
        """The streams to capture: the configured ones with these changes, sorted."""
        return sorted((frozenset(configured) - self.removed) | self.added)

    def to_json(self) -> bytes:
        return json.dumps({"added": sorted(self.added), "removed": sorted(self.removed)}).encode()

    @classmethod
    def from_json(cls, data: bytes) -> SubscriptionChanges:
        """ValueError (naming the entry) for anything but what :meth:`to_json` writes."""
        fields = json.loads(data)
        if not isinstance(fields, dict):
            raise ValueError("not an object")
        lists = {key: fields.get(key, []) for key in ("added", "removed")}
        for key, streams in lists.items():
            if not isinstance(streams, list):
                raise ValueError(f"{key} is not a list")
            for name in streams:
                if not _is_stream_name(name):
                    raise ValueError(f"{key}: {name!r} is not a Binance stream name")
        return cls(frozenset(lists["added"]), frozenset(lists["removed"]))


def _is_stream_name(name: object) -> bool:
    """True for a stream name as :func:`stream_request` spells them (``btcusdt@trade``)."""
    if not isinstance(name, str):
        return False
    try:
        return stream_request(*([part] for part in describe_stream(name))).stream_names == (name,)
    except InvalidArgument:
        return False
