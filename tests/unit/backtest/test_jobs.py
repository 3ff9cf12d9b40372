"""Unit tests for services/backtest/jobs.py: states, transitions, progress, claims, pages."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from services.backtest.jobs import (
    TERMINAL,
    Claim,
    Job,
    JobKind,
    JobState,
    Progress,
    can_move,
    check_move,
    claim,
    cursor,
    moves_forward,
    page,
    parse_cursor,
    parse_job_id,
    sources_of,
)
from services.common.errors import FailedPrecondition, InvalidArgument

JOB = Job(
    id="5b1f3c9e-8d2a-4c6b-9a51-2f7e0d4c8b13",
    kind=JobKind.OPTIMIZE,
    state=JobState.QUEUED,
    request={"symbol": "BTCUSDT"},
    progress=0.0,
    message="",
    result=None,
    error="",
    attempts=0,
    cancel_requested=False,
    created_at=datetime(2026, 12, 1, 15, 0, 0, 123456, tzinfo=UTC),
    started_at=None,
    finished_at=None,
)


@pytest.mark.parametrize("state", sorted(TERMINAL))
def test_terminal_state_moves_nowhere(state: JobState) -> None:
    assert state.terminal
    assert not any(can_move(state, target) for target in JobState)


def test_queued_job_can_start_or_be_cancelled_but_not_succeed() -> None:
    assert can_move(JobState.QUEUED, JobState.RUNNING)
    assert can_move(JobState.QUEUED, JobState.CANCELLED)
    assert not can_move(JobState.QUEUED, JobState.SUCCEEDED)


def test_running_job_can_be_claimed_again_after_a_redelivery() -> None:
    assert can_move(JobState.RUNNING, JobState.RUNNING)


def test_only_a_running_job_can_succeed_so_a_second_result_is_refused() -> None:
    assert sources_of(JobState.SUCCEEDED) == ["RUNNING"]


def test_sources_of_cancelled_are_queued_and_running() -> None:
    assert sources_of(JobState.CANCELLED) == ["QUEUED", "RUNNING"]


def test_check_move_from_succeeded_to_cancelled_names_the_job_and_states() -> None:
    with pytest.raises(FailedPrecondition, match=f"job {JOB.id} is SUCCEEDED.*CANCELLED"):
        check_move(JobState.SUCCEEDED, JobState.CANCELLED, JOB.id)


def test_parse_job_id_canonicalises_upper_case() -> None:
    assert parse_job_id(JOB.id.upper()) == JOB.id


def test_parse_job_id_rejects_non_uuid_naming_it() -> None:
    with pytest.raises(InvalidArgument, match="'nope' is not a UUID"):
        parse_job_id("nope")


def test_progress_of_counts_gives_fraction_and_message() -> None:
    progress = Progress.of(30, 90, "parameter sets")
    assert progress.fraction == pytest.approx(1 / 3)
    assert progress.message == "30/90 parameter sets"


def test_progress_of_nothing_to_do_is_complete() -> None:
    assert Progress.of(0, 0, "sets").fraction == 1.0


@pytest.mark.parametrize("fraction", [-0.1, 1.5, float("nan")])
def test_progress_outside_zero_one_is_refused(fraction: float) -> None:
    with pytest.raises(ValueError, match="progress must be in"):
        Progress(fraction)


def test_progress_advances_only_past_what_is_recorded() -> None:
    assert Progress(0.5).advances(0.4)
    assert not Progress(0.4).advances(0.4)
    assert not Progress(0.1).advances(0.4)  # a redelivered attempt starting over


def test_claim_queued_job_runs_it() -> None:
    assert claim(JOB, max_attempts=3) is Claim.RUN


def test_claim_redelivered_running_job_runs_it_again() -> None:
    assert claim(replace(JOB, state=JobState.RUNNING, attempts=1), max_attempts=3) is Claim.RUN


@pytest.mark.parametrize("state", sorted(TERMINAL))
def test_claim_finished_job_skips_it(state: JobState) -> None:
    assert claim(replace(JOB, state=state), max_attempts=3) is Claim.SKIP


def test_claim_job_with_cancel_requested_cancels_it() -> None:
    job = replace(JOB, state=JobState.RUNNING, attempts=1, cancel_requested=True)
    assert claim(job, max_attempts=3) is Claim.CANCEL


def test_claim_job_whose_attempts_are_used_up_gives_up() -> None:
    job = replace(JOB, state=JobState.RUNNING, attempts=3)
    assert claim(job, max_attempts=3) is Claim.GIVE_UP


def test_page_defaults_to_twenty_newest() -> None:
    assert page(None, None).first == 20
    assert page(None, None).after is None


@pytest.mark.parametrize("first", [-1, 101])
def test_page_size_out_of_range_is_refused(first: int) -> None:
    with pytest.raises(InvalidArgument, match=r"first must be in 1\.\.100"):
        page(first, None)


def test_cursor_round_trips_creation_time_to_the_microsecond_and_id() -> None:
    assert parse_cursor(cursor(JOB)) == (JOB.created_at, JOB.id)


def test_parse_cursor_rejects_garbage() -> None:
    with pytest.raises(InvalidArgument, match="cursor 'x:y'"):
        parse_cursor("x:y")


def test_watcher_sees_progress_forward_only() -> None:
    running = JobState.RUNNING
    assert moves_forward((running, 0.3), (running, 0.4))
    assert not moves_forward((running, 0.4), (running, 0.4))
    assert not moves_forward((running, 0.4), (running, 0.05))  # a new attempt restarting


def test_watcher_sees_start_and_end_once() -> None:
    assert moves_forward((JobState.QUEUED, 0.0), (JobState.RUNNING, 0.0))
    assert moves_forward((JobState.RUNNING, 0.9), (JobState.CANCELLED, 0.5))
    assert not moves_forward((JobState.SUCCEEDED, 1.0), (JobState.SUCCEEDED, 1.0))
