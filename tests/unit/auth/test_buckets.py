"""Token buckets: spend, refill, wait times, one bucket per client."""

from __future__ import annotations

import pytest

from services.common.auth.buckets import RateLimiter, TokenBucket


def test_bucket_spends_until_empty_then_names_the_wait() -> None:
    bucket = TokenBucket(capacity=100, refill_per_s=10, tokens=100, updated=0.0)
    assert bucket.take(60, now=0.0) == 0.0
    assert bucket.take(40, now=0.0) == 0.0
    assert bucket.take(30, now=0.0) == pytest.approx(3.0)
    assert bucket.take(30, now=3.0) == 0.0  # refilled 30 in 3 s


def test_refill_stops_at_capacity() -> None:
    bucket = TokenBucket(capacity=100, refill_per_s=10, tokens=0, updated=0.0)
    bucket.take(0, now=1_000.0)
    assert bucket.tokens == 100


def test_cost_above_capacity_is_charged_as_the_capacity() -> None:
    bucket = TokenBucket(capacity=100, refill_per_s=10, tokens=100, updated=0.0)
    assert bucket.take(5_000, now=0.0) == 0.0
    assert bucket.take(1, now=0.0) == pytest.approx(0.1)


def test_refused_request_spends_nothing() -> None:
    bucket = TokenBucket(capacity=10, refill_per_s=1, tokens=5, updated=0.0)
    assert bucket.take(8, now=0.0) > 0
    assert bucket.take(5, now=0.0) == 0.0


def test_clients_have_separate_buckets() -> None:
    limiter = RateLimiter(capacity=10, refill_per_s=1)
    assert limiter.take("user:alice", 10, now=0.0) == 0.0
    assert limiter.take("user:alice", 1, now=0.0) == pytest.approx(1.0)
    assert limiter.take("user:bob", 10, now=0.0) == 0.0


def test_forgotten_clients_are_the_least_recently_seen() -> None:
    limiter = RateLimiter(capacity=10, refill_per_s=1, max_clients=2)
    limiter.take("a", 10, now=0.0)
    limiter.take("b", 10, now=0.0)
    limiter.take("a", 0, now=0.0)  # a seen again: b is now the oldest
    limiter.take("c", 10, now=0.0)
    assert limiter.take("a", 1, now=0.0) > 0  # still remembered, still empty
    assert limiter.take("b", 10, now=0.0) == 0.0  # forgotten: a full bucket


def test_limiter_needs_positive_numbers() -> None:
    with pytest.raises(ValueError):
        RateLimiter(capacity=0, refill_per_s=1)
