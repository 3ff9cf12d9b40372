"""NATS JetStream: connecting and declaring the streams every service relies on."""

from __future__ import annotations

import logging

import nats
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError, NotFoundError

from services.common import names

log = logging.getLogger(__name__)

# Server-side dedupe of Nats-Msg-Id: covers reconnect overlaps and quick replays.
DUPLICATE_WINDOW_S = 120.0


async def connect(url: str, name: str) -> NatsClient:
    """Connect with unlimited reconnects: a NATS restart pauses us, it does not kill us."""

    async def report_error(error: Exception) -> None:
        # nats-py's default prints a traceback for every failed attempt, forever.
        log.warning("NATS at %s: %s", url, error or type(error).__name__)

    async def report_disconnected() -> None:
        log.info("disconnected from NATS at %s", url)

    async def report_reconnected() -> None:
        log.info("reconnected to NATS at %s", url)

    return await nats.connect(
        url,
        name=name,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        connect_timeout=5,
        error_cb=report_error,
        disconnected_cb=report_disconnected,
        reconnected_cb=report_reconnected,
    )


async def _ensure_stream(js: JetStreamContext, config: StreamConfig) -> None:
    try:
        await js.stream_info(config.name)
    except NotFoundError:
        try:
            await js.add_stream(config)
            log.info("created stream %s for %s", config.name, config.subjects)
            return
        except BadRequestError:
            pass  # created concurrently by another service: update below
    await js.update_stream(config)


# Dead letters are kept a week.
DEADLETTER_MAX_AGE_S = 7 * 24 * 3600.0


async def ensure_streams(js: JetStreamContext, namespace: str, market_max_age_s: float) -> None:
    """Create (or bring up to date) the MARKET and DEADLETTER streams."""
    await _ensure_stream(
        js,
        StreamConfig(
            name=names.market_stream(namespace),
            subjects=names.market_subjects(namespace),
            retention=RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            max_age=market_max_age_s,
            duplicate_window=DUPLICATE_WINDOW_S,
            discard=DiscardPolicy.OLD,
        ),
    )
    await _ensure_stream(
        js,
        StreamConfig(
            name=names.deadletter_stream(namespace),
            subjects=names.deadletter_subjects(namespace),
            retention=RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            max_age=DEADLETTER_MAX_AGE_S,
            # A market message can be redelivered for as long as the stream keeps it; the
            # dead letters of its events, named by it, are then kept once (they are few, so
            # a long window costs little).
            duplicate_window=min(market_max_age_s, DEADLETTER_MAX_AGE_S),
        ),
    )


# A queued job no worker took is kept this long (then it is only a row in PostgreSQL).
JOBS_MAX_AGE_S = 7 * 24 * 3600.0


async def ensure_jobs_stream(js: JetStreamContext, namespace: str) -> None:
    """Create (or bring up to date) the JOBS work queue: each job is delivered to one
    worker of the shared durable consumer and removed once acked."""
    await _ensure_stream(
        js,
        StreamConfig(
            name=names.jobs_stream(namespace),
            subjects=names.jobs_subjects(namespace),
            retention=RetentionPolicy.WORK_QUEUE,
            storage=StorageType.FILE,
            max_age=JOBS_MAX_AGE_S,
            duplicate_window=DUPLICATE_WINDOW_S,
        ),
    )


# Firings are kept a week on the bus (the record is PostgreSQL's alert_firings).
ALERTS_MAX_AGE_S = 7 * 24 * 3600.0


async def ensure_alerts_stream(js: JetStreamContext, namespace: str) -> None:
    """Create (or bring up to date) the ALERTS stream of committed firings
    (``alerts.fired.<SYMBOL>``, one message per firing by its Nats-Msg-Id)."""
    await _ensure_stream(
        js,
        StreamConfig(
            name=names.alerts_stream(namespace),
            subjects=names.alerts_subjects(namespace),
            retention=RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            max_age=ALERTS_MAX_AGE_S,
            duplicate_window=DUPLICATE_WINDOW_S,
        ),
    )
