"""What the delivery worker writes after a send, as pure decisions (no database here).

The outbox's rules (issue 10, "Delivery with nothing lost"):

- ``Delivered`` → the notification is DELIVERED.
- ``Failed`` → FAILED with the sender's reason (a permanent refusal, or retries ran out).
- ``Retry`` → still PENDING, sent again no earlier than ``after_s`` from now (a 429's
  ``retry_after``, or the retry policy's backoff for 5xx and network faults); the reason is
  kept so ``notifications`` shows why it waits.
- An *unknown outcome* — a ``Retry`` flagged ``maybe_delivered`` (the request went out, its
  answer was lost), or a send the worker never heard back from because it died (found
  with ``sending_since`` set) — is repeated once, with the same idempotency key, and the
  notification is flagged ``possible_duplicate``. A second unknown outcome for the same
  notification is not repeated again: it ends FAILED saying so, because another repeat
  could deliver a third copy (and a notification that kills its worker every time must not
  take the worker down forever).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from services.alerts.channels.outcome import Delivered, Failed, Outcome, Retry


class Status(StrEnum):
    """``alert_notifications.status``."""

    PENDING = "PENDING"
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"


class AttemptOutcome(StrEnum):
    """``alert_delivery_attempts.outcome``."""

    DELIVERED = "DELIVERED"
    RETRY = "RETRY"
    FAILED = "FAILED"
    # Written before the send goes out; stays so when no answer came back.
    UNKNOWN = "UNKNOWN"


UNKNOWN_TWICE = (
    "not sent again: the outcome of a repeat after an unknown outcome was unknown too "
    "(it may have arrived)"
)


@dataclass(frozen=True)
class Settlement:
    """What one answered send does to its notification and its attempt row."""

    status: Status
    attempt_outcome: AttemptOutcome
    # The attempt row's detail, and the notification's reason ('' once delivered).
    detail: str
    reason: str
    # PENDING only: seconds from now before the next send.
    retry_after_s: float = 0.0
    possible_duplicate: bool = False


def settle(outcome: Outcome, *, possible_duplicate: bool) -> Settlement:
    """The settlement of one send's ``outcome``; ``possible_duplicate``: the notification
    was already repeated after an unknown outcome."""
    if isinstance(outcome, Delivered):
        return Settlement(
            Status.DELIVERED, AttemptOutcome.DELIVERED, "", "", 0.0, possible_duplicate
        )
    if isinstance(outcome, Failed):
        return Settlement(
            Status.FAILED,
            AttemptOutcome.FAILED,
            outcome.reason,
            outcome.reason,
            0.0,
            possible_duplicate,
        )
    if isinstance(outcome, Retry):
        if not outcome.maybe_delivered:
            return Settlement(
                Status.PENDING,
                AttemptOutcome.RETRY,
                outcome.reason,
                outcome.reason,
                max(0.0, outcome.after_s),
                possible_duplicate,
            )
        if possible_duplicate:
            reason = f"{UNKNOWN_TWICE}; last: {outcome.reason}"
            return Settlement(
                Status.FAILED, AttemptOutcome.UNKNOWN, outcome.reason, reason, 0.0, True
            )
        return Settlement(
            Status.PENDING,
            AttemptOutcome.UNKNOWN,
            outcome.reason,
            f"{outcome.reason}; sent again as a possible duplicate",
            max(0.0, outcome.after_s),
            True,
        )
    raise TypeError(f"not a send outcome: {outcome!r}")


class Recovery(StrEnum):
    """What to do with a notification found mid-send (its worker died before the answer)."""

    REPEAT = "REPEAT"  # send once more, flagged possible_duplicate
    GIVE_UP = "GIVE_UP"  # it was already a repeat: FAILED with UNKNOWN_TWICE


def recover(*, possible_duplicate: bool) -> Recovery:
    return Recovery.GIVE_UP if possible_duplicate else Recovery.REPEAT
