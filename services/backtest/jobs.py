"""Jobs: what a backtest or an optimisation handed to a worker goes through.

Pure (no I/O): the states, the transitions between them, progress, and the decision a worker
makes when a job reaches it. The repository (``job_store``) writes only the transitions this
module allows, each as one conditional ``UPDATE``, so two workers finishing the same job (a
redelivered one whose first worker was only slow) record one result: the second finds the
job already terminal and changes nothing.

::

    QUEUED ──► RUNNING ──► SUCCEEDED
       │         │ ▲  └──► FAILED
       │         └─┘ (redelivered: another attempt)
       └─────────┴──────► CANCELLED
"""

from __future__ import annotations

import enum
import math
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from services.common.errors import FailedPrecondition, InvalidArgument


class JobKind(enum.StrEnum):
    BACKTEST = "backtest"
    OPTIMIZE = "optimize"


class JobState(enum.StrEnum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL


TERMINAL = frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED})

# Every allowed move: RUNNING → RUNNING is a redelivered job claimed by another worker.
TRANSITIONS: dict[JobState, frozenset[JobState]] = {
    JobState.QUEUED: frozenset({JobState.RUNNING, JobState.CANCELLED, JobState.FAILED}),
    JobState.RUNNING: frozenset(
        {JobState.RUNNING, JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED}
    ),
    JobState.SUCCEEDED: frozenset(),
    JobState.FAILED: frozenset(),
    JobState.CANCELLED: frozenset(),
}


def can_move(source: JobState, target: JobState) -> bool:
    return target in TRANSITIONS[source]


def sources_of(target: JobState) -> list[str]:
    """The states a job may be in to move to ``target`` (what the repository's ``WHERE``
    clauses accept), sorted for a stable query."""
    return sorted(state.value for state, targets in TRANSITIONS.items() if target in targets)


def check_move(source: JobState, target: JobState, job_id: str) -> None:
    """FAILED_PRECONDITION naming the job when ``source`` cannot move to ``target``."""
    if not can_move(source, target):
        raise FailedPrecondition(f"job {job_id} is {source.value}; it cannot become {target.value}")


def parse_job_id(text: str) -> str:
    """The canonical spelling of a job id; INVALID_ARGUMENT naming it when it is no UUID."""
    try:
        return str(uuid.UUID(text))
    except (ValueError, AttributeError, TypeError):
        raise InvalidArgument(f"job id {text!r} is not a UUID") from None


@dataclass(frozen=True)
class Progress:
    """How far a running job is: ``fraction`` in [0, 1] and what it is doing."""

    fraction: float
    message: str = ""

    def __post_init__(self) -> None:
        if not (math.isfinite(self.fraction) and 0.0 <= self.fraction <= 1.0):
            raise ValueError(f"progress must be in [0, 1], got {self.fraction}")

    @classmethod
    def of(cls, done: int, total: int, what: str) -> Progress:
        """``done`` of ``total`` steps, e.g. ``Progress.of(3, 90, "parameter sets")``."""
        fraction = min(1.0, done / total) if total > 0 else 1.0
        return cls(fraction, f"{done}/{total} {what}")

    def advances(self, recorded: float) -> bool:
        """True when this is news after ``recorded``: progress only ever moves forward, even
        across a redelivery, whose new attempt starts again from 0."""
        return self.fraction > recorded


def moves_forward(latest: tuple[JobState, float], event: tuple[JobState, float]) -> bool:
    """Whether ``event`` (state, progress) is news to a watcher who saw ``latest``: the job
    ended, started, or progressed; never a step back (a redelivered attempt starts over at 0
    but is shown only once it passes what was shown)."""
    (seen_state, seen_progress), (state, progress) = latest, event
    if seen_state.terminal:
        return False
    if state.terminal:
        return True
    if state is not seen_state and progress >= seen_progress:
        return True
    return progress > seen_progress


@dataclass(frozen=True)
class Job:
    """One job as stored."""

    id: str
    kind: JobKind
    state: JobState
    request: dict[str, Any]
    progress: float
    message: str
    result: dict[str, Any] | None
    error: str
    attempts: int
    cancel_requested: bool
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class Claim(enum.Enum):
    """What a worker does with a job the work queue handed it."""

    RUN = "run"  # mark it RUNNING (one more attempt) and run it
    SKIP = "skip"  # already terminal (finished by another worker, or cancelled): ack it
    CANCEL = "cancel"  # cancel asked before it ran: record CANCELLED, ack
    GIVE_UP = "give_up"  # too many attempts (it kills its workers): record FAILED, ack


def claim(job: Job, max_attempts: int) -> Claim:
    """The decision for a delivered job; idempotent, so a redelivery decides again."""
    if job.state.terminal:
        return Claim.SKIP
    if job.cancel_requested:
        return Claim.CANCEL
    if job.attempts >= max_attempts:
        return Claim.GIVE_UP
    return Claim.RUN


class JobCancelled(Exception):
    """Raised from a job's progress callback to stop its work (a cancel was requested)."""


@dataclass(frozen=True)
class Page:
    """Keyset pagination over jobs, newest first: ``after`` is the cursor of the last job
    of the page before (see :func:`cursor`)."""

    first: int
    after: tuple[datetime, str] | None


MAX_PAGE = 100


def page(first: int | None, after: str | None) -> Page:
    """A page request, checked: ``first`` in 1..100 (default 20), ``after`` a cursor."""
    size = 20 if first is None or first == 0 else first
    if not 1 <= size <= MAX_PAGE:
        raise InvalidArgument(f"first must be in 1..{MAX_PAGE}, got {first}")
    return Page(size, parse_cursor(after) if after else None)


def cursor(job: Job) -> str:
    """An opaque-enough cursor: the job's creation time (µs) and id."""
    micros = (job.created_at - _EPOCH) // timedelta(microseconds=1)
    return f"{micros}:{job.id}"


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parse_cursor(text: str) -> tuple[datetime, str]:
    micros, _, job_id = text.partition(":")
    try:
        created = _EPOCH + timedelta(microseconds=int(micros))
    except (ValueError, OverflowError):
        raise InvalidArgument(f"cursor {text!r} is not one a jobs page returned") from None
    return created, parse_job_id(job_id)
