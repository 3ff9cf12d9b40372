"""Backoff after failed sends: exponential, capped, jittered, and finite."""

from __future__ import annotations

import random

import pytest

from services.alerts.channels.outcome import Failed, Retry
from services.alerts.channels.retry_policy import RetryPolicy, backoff, retry_after_seconds


def test_delays_double_until_the_cap_without_jitter() -> None:
    policy = RetryPolicy(base_s=1.0, factor=2.0, cap_s=10.0, jitter=0.0, max_attempts=100)

    assert [policy.delay_s(n) for n in range(1, 7)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


def test_huge_attempt_numbers_stay_at_the_cap() -> None:
    policy = RetryPolicy(cap_s=300.0, jitter=0.0, max_attempts=10**9)

    assert policy.delay_s(5000) == 300.0


def test_jitter_takes_up_to_its_fraction_off_each_delay() -> None:
    policy = RetryPolicy(base_s=4.0, factor=2.0, cap_s=100.0, jitter=0.5, max_attempts=100)
    rng = random.Random(7)

    delays = [policy.delay_s(3, rng) for _ in range(2000)]

    assert all(d is not None and 8.0 <= d <= 16.0 for d in delays)
    # Spread over the range, not one value: retries of many notifications do not align.
    assert min(d for d in delays if d is not None) < 8.5
    assert max(d for d in delays if d is not None) > 15.5


def test_the_same_seed_gives_the_same_delays() -> None:
    policy = RetryPolicy()

    first = [policy.delay_s(n, random.Random(1)) for n in range(1, 6)]
    again = [policy.delay_s(n, random.Random(1)) for n in range(1, 6)]

    assert first == again


def test_policy_gives_up_after_max_attempts() -> None:
    policy = RetryPolicy(max_attempts=3)

    assert policy.delay_s(2) is not None
    assert policy.delay_s(3) is None


def test_backoff_retries_then_fails_non_permanently_naming_the_attempts() -> None:
    policy = RetryPolicy(base_s=2.0, jitter=0.0, max_attempts=3)

    assert backoff(policy, 1, "503", maybe_delivered=True) == Retry(2.0, "503", True)
    assert backoff(policy, 3, "503") == Failed("gave up after 3 attempts: 503", permanent=False)


@pytest.mark.parametrize(
    "arguments",
    [{"base_s": 0.0}, {"factor": 0.5}, {"cap_s": 0.1}, {"jitter": 1.5}, {"max_attempts": 0}],
)
def test_nonsense_policies_are_refused(arguments: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="RetryPolicy"):
        RetryPolicy(**arguments)  # type: ignore[arg-type]


def test_attempts_count_from_one() -> None:
    with pytest.raises(ValueError, match="attempt counts from 1"):
        RetryPolicy().ceiling_s(0)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("5", 5.0), (" 1.5 ", 1.5), (None, None), ("soon", None), ("-3", None)],
)
def test_retry_after_headers_are_read_in_seconds(header: str | None, seconds: float | None) -> None:
    assert retry_after_seconds(header) == seconds
