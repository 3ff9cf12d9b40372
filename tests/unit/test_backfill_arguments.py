"""``quantflow backfill``'s --kind, --from and --to: ids, ISO-8601 UTC times, and one-line
refusals."""

from __future__ import annotations

import pytest

from services.cli.backfill import BackfillError, Bound, parse_bound, parse_kind
from services.common.intervals import MONTHLY, SeriesStep

DAY = 1_660_435_200_000  # 2022-08-14 00:00 UTC


@pytest.mark.parametrize(
    ("text", "end", "expected"),
    [
        ("665076760", False, Bound(665076760, is_time=False)),
        ("2022-08-14", False, Bound(DAY, is_time=True)),
        ("2022-08-14", True, Bound(DAY + 86_400_000 - 1, is_time=True)),
        ("2022-08-14T10:00", True, Bound(DAY + 36_000_000, is_time=True)),
        ("2022-08-14T10:00:00.250Z", False, Bound(DAY + 36_000_250, is_time=True)),
        ("2022-08-14T12:00:00+02:00", False, Bound(DAY + 36_000_000, is_time=True)),
    ],
)
def test_bounds_are_ids_or_utc_times(text: str, end: bool, expected: Bound) -> None:
    assert parse_bound(text, "--from", end=end) == expected


def test_a_bound_that_is_neither_is_refused_naming_the_flag() -> None:
    with pytest.raises(BackfillError, match="--to 'last week' is neither an id nor"):
        parse_bound("last week", "--to", end=True)


def test_kinds_are_the_streams_with_history_on_rest() -> None:
    assert parse_kind("aggTrade").bus_kind == "aggtrade"
    kline = parse_kind("kline_1h")
    assert (kline.bus_kind, kline.step, kline.show(DAY)) == (
        "kline_1h",
        SeriesStep(3_600_000),
        "2022-08-14T00:00Z",
    )
    month = parse_kind("kline_1M")
    assert (month.bus_kind, month.step, month.label) == ("kline_1M", MONTHLY, "1M klines")
    for refused, reason in (("kline_2m", "kline interval '2m'"), ("ticker", "no history")):
        with pytest.raises(BackfillError, match=reason):
            parse_kind(refused)
