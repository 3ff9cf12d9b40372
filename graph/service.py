"""The graph service: uvicorn serving the app, plus the gRPC health service."""

from __future__ import annotations

import asyncio
import logging

import uvicorn

from graph.app import create_app
from graph.authenticator import AuthConfig
from graph.body_limit import MAX_BODY_BYTES
from services.common.grpc_server import start_grpc_server
from services.common.runtime import require_url
from services.common.settings import Settings

log = logging.getLogger(__name__)


async def run(settings: Settings, stop: asyncio.Event) -> None:
    auth = AuthConfig.from_settings(settings)
    auth.key_ring()  # no keys: stop now with a line naming the fix, before anything listens
    app = create_app(
        require_url(settings.nats_url, "QUANTFLOW_NATS_URL"),
        settings.storage_target,
        settings.namespace,
        ingest_target=settings.ingest_target,
        backtest_target=settings.backtest_target,
        alerts_target=settings.alerts_target,
        auth=auth,
        service_token=settings.service_token,
    )
    config = uvicorn.Config(
        app,
        host=settings.graph_host,
        port=settings.graph_port,
        log_level=settings.log_level.lower(),
        lifespan="on",
        ws="websockets-sansio",
        ws_max_size=MAX_BODY_BYTES,  # a subscription message gets the same cap as a body
    )
    # uvicorn takes SIGINT/SIGTERM while it serves and raises them again once it has shut
    # down gracefully, so a signal ends `serve()` first and then sets `stop`.
    server = uvicorn.Server(config)
    # The gateway serves no gRPC service of its own: health and reflection only.
    grpc_server = await start_grpc_server(
        settings.grpc_host,
        settings.graph_grpc_port,
        lambda _server: None,
        [],
        service_token=settings.service_token,
    )
    serving = asyncio.create_task(server.serve())
    stopped = asyncio.create_task(stop.wait())
    try:
        done, _ = await asyncio.wait({serving, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if serving in done:
            serving.result()
            if not server.started:
                raise SystemExit(
                    f"GraphQL could not listen on {settings.graph_host}:{settings.graph_port}"
                )
    finally:
        server.should_exit = True
        await serving
        await grpc_server.stop()
