"""Time windows in arguments: ISO-8601 DateTimes in, half-open epoch-millisecond bounds out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from graph.errors import TypedError

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def epoch_ms(moment: datetime) -> int:
    """Epoch milliseconds of ``moment``; a time without an offset is UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def window_ms(first: datetime | None, end: datetime | None) -> tuple[int | None, int | None]:
    """[from, to) as epoch milliseconds (None: unbounded); INVALID_ARGUMENT when empty."""
    bounds = (None if first is None else epoch_ms(first), None if end is None else epoch_ms(end))
    if bounds[0] is not None and bounds[1] is not None and bounds[1] <= bounds[0]:
        raise TypedError(
            "INVALID_ARGUMENT",
            f"from {first:%Y-%m-%dT%H:%M:%S.%fZ} is not before to {end:%Y-%m-%dT%H:%M:%S.%fZ}: "
            "the range is half-open [from, to)",
        )
    return bounds
