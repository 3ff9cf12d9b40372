"""The outbox's rules for one send's answer: delivered, failed, retried, and an unknown
outcome repeated once at most."""

from __future__ import annotations

from services.alerts.channels.outcome import Delivered, Failed, Retry
from services.alerts.delivery_rules import (
    UNKNOWN_TWICE,
    AttemptOutcome,
    Recovery,
    Status,
    recover,
    settle,
)


def test_delivered_ends_delivered_without_a_reason() -> None:
    settled = settle(Delivered(), possible_duplicate=False)
    assert (settled.status, settled.attempt_outcome, settled.reason) == (
        Status.DELIVERED,
        AttemptOutcome.DELIVERED,
        "",
    )


def test_failed_ends_failed_with_the_senders_reason() -> None:
    settled = settle(Failed("Discord 404: Unknown Webhook"), possible_duplicate=False)
    assert settled.status is Status.FAILED
    assert settled.attempt_outcome is AttemptOutcome.FAILED
    assert settled.reason == settled.detail == "Discord 404: Unknown Webhook"


def test_retry_waits_as_long_as_the_answer_said_and_keeps_the_reason() -> None:
    settled = settle(Retry(3.0, "Telegram 429: retry after 3"), possible_duplicate=False)
    assert settled.status is Status.PENDING
    assert settled.attempt_outcome is AttemptOutcome.RETRY
    assert settled.retry_after_s == 3.0
    assert settled.reason == "Telegram 429: retry after 3"
    assert not settled.possible_duplicate


def test_lost_answer_is_repeated_once_flagged_possible_duplicate() -> None:
    settled = settle(Retry(0.5, "no answer", maybe_delivered=True), possible_duplicate=False)
    assert settled.status is Status.PENDING
    assert settled.attempt_outcome is AttemptOutcome.UNKNOWN
    assert settled.possible_duplicate
    assert settled.retry_after_s == 0.5


def test_second_unknown_outcome_is_not_repeated() -> None:
    settled = settle(Retry(0.5, "no answer", maybe_delivered=True), possible_duplicate=True)
    assert settled.status is Status.FAILED
    assert settled.attempt_outcome is AttemptOutcome.UNKNOWN
    assert settled.reason.startswith(UNKNOWN_TWICE)


def test_plain_retry_of_a_repeat_keeps_its_duplicate_flag() -> None:
    settled = settle(Retry(1.0, "webhook answered 503"), possible_duplicate=True)
    assert settled.status is Status.PENDING and settled.possible_duplicate


def test_send_found_mid_flight_is_repeated_once_then_given_up() -> None:
    assert recover(possible_duplicate=False) is Recovery.REPEAT
    assert recover(possible_duplicate=True) is Recovery.GIVE_UP
