"""Job progress on the bus: ``backtest.v1.JobEvent`` on core NATS ``jobs.progress.<id>``.

Core NATS (not JetStream): progress is for whoever watches now; what a late watcher needs
is in the ``jobs`` table, which every event is written to first.
"""

from __future__ import annotations

import logging
import time

import nats.errors
from nats.aio.client import Client as NatsClient

from quantflow.backtest.v1 import jobs_pb2
from services.backtest.jobs import Job, JobKind, JobState
from services.common import names

log = logging.getLogger(__name__)

STATES = {state: jobs_pb2.JobState.Value(f"JOB_STATE_{state.value}") for state in JobState}
KINDS = {kind: jobs_pb2.JobKind.Value(f"JOB_KIND_{kind.name}") for kind in JobKind}
STATE_OF = {value: state for state, value in STATES.items()}


def job_event(job: Job) -> jobs_pb2.JobEvent:
    return jobs_pb2.JobEvent(
        job_id=job.id,
        state=STATES[job.state],
        progress=job.progress,
        message=job.message,
        error=job.error,
        time_ms=int(time.time() * 1000),
    )


class JobEventPublisher:
    """Publishes job events; a bus hiccup loses an event, never the job (it is in the table)."""

    def __init__(self, nc: NatsClient, namespace: str) -> None:
        self._nc = nc
        self._namespace = namespace

    async def publish(self, event: jobs_pb2.JobEvent) -> None:
        subject = names.job_progress_subject(event.job_id, self._namespace)
        try:
            await self._nc.publish(subject, event.SerializeToString())
        except nats.errors.Error as error:
            log.warning("job %s: progress event not published (%s)", event.job_id, error)
