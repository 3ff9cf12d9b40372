"""SeenIds: repeats of published ids are recognised across runs, gaps and backfills."""

from __future__ import annotations

from services.ingest.seen_ids import SeenIds


def test_a_consecutive_series_is_new_and_a_repeat_is_not() -> None:
    seen = SeenIds()
    assert all(seen.add("s", n) for n in range(100, 200))
    assert not any(seen.add("s", n) for n in range(150, 200))  # a reconnect's overlap
    assert seen.add("s", 200)


def test_a_backfilled_hole_is_new_once_and_series_are_apart() -> None:
    seen = SeenIds()
    for n in [*range(1, 11), *range(21, 31)]:  # ids 11-20 missed: a gap
        assert seen.add("s", n)
    assert all(seen.add("s", n) for n in range(11, 21))  # the backfill fills it
    assert not any(seen.add("s", n) for n in range(1, 31))
    assert seen.add("other", 5)


def test_only_the_newest_runs_are_remembered() -> None:
    seen = SeenIds(max_runs=2)
    for n in (10, 20, 30):  # three runs: the lowest is forgotten
        assert seen.add("s", n)
    assert seen.add("s", 10)
    assert not seen.add("s", 30)
