"""Channel rate limits as bookkeeping: per-target spacing, a global window, pauses."""

from __future__ import annotations

import pytest

from services.alerts.channels.rate_limit import RateLimiter, telegram_limiter


def test_one_chat_waits_a_second_between_messages_others_do_not() -> None:
    limiter = telegram_limiter()
    limiter.record("chat-a", 100.0)

    assert limiter.wait_s("chat-a", 100.25) == 0.75
    assert limiter.wait_s("chat-a", 101.0) == 0.0
    assert limiter.wait_s("chat-b", 100.25) == 0.0


def test_the_31st_message_in_a_second_waits_for_the_oldest_to_leave_the_window() -> None:
    limiter = telegram_limiter()
    for n in range(30):
        limiter.record(f"chat-{n}", 10.0 + n * 0.01)

    assert limiter.wait_s("chat-new", 10.5) == 0.5
    # The first send (at 10.00) leaves the one-second window at 11.00.
    assert limiter.wait_s("chat-new", 11.0) == 0.0
    assert limiter.wait_s("chat-new", 11.005) == 0.0


def test_overrun_window_waits_until_enough_sends_have_left() -> None:
    limiter = RateLimiter(global_limit=2, global_window_s=1.0)
    for at in (0.0, 0.1, 0.2, 0.3):
        limiter.record("x", at)

    # Four sends in the window, two allowed: wait until the third oldest (0.2) leaves.
    assert limiter.wait_s("y", 0.5) == 0.7


def test_a_pause_holds_its_target_until_it_ends() -> None:
    limiter = RateLimiter()
    limiter.pause("chat-a", 50.0)

    assert limiter.wait_s("chat-a", 47.0) == 3.0
    assert limiter.wait_s("chat-a", 50.0) == 0.0
    assert limiter.wait_s("chat-b", 47.0) == 0.0


def test_a_global_pause_holds_every_target() -> None:
    limiter = RateLimiter()
    limiter.pause(None, 20.0)

    assert limiter.wait_s("any", 18.0) == 2.0


def test_a_shorter_pause_never_shortens_a_longer_one() -> None:
    limiter = RateLimiter()
    limiter.pause("chat-a", 30.0)
    limiter.pause("chat-a", 25.0)

    assert limiter.wait_s("chat-a", 20.0) == 10.0


def test_spacing_counts_from_the_answer_when_it_came_later() -> None:
    limiter = telegram_limiter()
    limiter.record("chat-a", 100.0)
    limiter.answered("chat-a", 100.4)

    assert limiter.wait_s("chat-a", 101.0) == pytest.approx(0.4)


def test_an_answer_is_not_a_second_send_in_the_global_window() -> None:
    limiter = RateLimiter(global_limit=2, global_window_s=1.0)
    limiter.record("chat-a", 0.0)
    limiter.answered("chat-a", 0.1)

    assert limiter.wait_s("chat-b", 0.2) == 0.0
