"""The Starlette application: GraphQL (GraphiQL, graphql-transport-ws and legacy graphql-ws),
REST routes with their OpenAPI document and docs page, health, metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import grpc
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route, WebSocketRoute
from strawberry.asgi import GraphQL
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL

from graph import ide
from graph.api_docs import api_docs_routes
from graph.body_limit import BodySizeLimit
from graph.context import Backends, Context
from graph.health_routes import Upstreams, health_routes
from graph.rest import rest_routes
from graph.schema import schema
from quantflow.alerts.v1 import alerts_service_pb2_grpc
from quantflow.backtest.v1 import backtest_service_pb2_grpc
from quantflow.market.v1 import ingest_service_pb2_grpc
from quantflow.storage.v1 import storage_service_pb2_grpc
from services.common import bus


class QuantflowGraphQL(GraphQL[Context, None]):
    def __init__(self, backends: dict[str, Backends]) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql",
            # graphql-ws: the legacy subprotocol older Apollo clients still speak.
            subscription_protocols=[GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL],
            keep_alive=True,
            keep_alive_interval=15,
        )
        self._backends = backends
        self._graphiql_html = ide.graphiql_html()

    @property
    def graphql_ide_html(self) -> str:
        """GraphiQL loading its scripts from this server, not a CDN: it works offline."""
        return self._graphiql_html

    async def get_context(self, request: Any, response: Any) -> Context:
        return Context(backends=self._backends["current"])


# A backtest result (up to 10,000 equity points and every trade) may pass gRPC's 4 MB default.
_BACKTEST_CHANNEL = [("grpc.max_receive_message_length", 64 * 1024 * 1024)]


def create_app(
    nats_url: str,
    storage_target: str,
    namespace: str,
    *,
    ingest_target: str,
    backtest_target: str | None = None,
    alerts_target: str | None = None,
) -> Starlette:
    holder: dict[str, Backends] = {}
    upstreams: dict[str, Upstreams] = {}

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        channel = grpc.aio.insecure_channel(storage_target)
        ingest_channel = grpc.aio.insecure_channel(ingest_target)
        backtest_channel = (
            grpc.aio.insecure_channel(backtest_target, options=_BACKTEST_CHANNEL)
            if backtest_target
            else None
        )
        alerts_channel = grpc.aio.insecure_channel(alerts_target) if alerts_target else None
        nc = await bus.connect(nats_url, "graph")
        holder["current"] = Backends(
            storage=storage_service_pb2_grpc.StorageServiceStub(channel),
            ingest=ingest_service_pb2_grpc.IngestServiceStub(ingest_channel),
            nats=nc,
            namespace=namespace,
            backtest=(
                backtest_service_pb2_grpc.BacktestServiceStub(backtest_channel)
                if backtest_channel
                else None
            ),
            alerts=(
                alerts_service_pb2_grpc.AlertsServiceStub(alerts_channel)
                if alerts_channel
                else None
            ),
        )
        channels = {"storage": channel, "ingest": ingest_channel}
        if backtest_channel is not None:
            channels["backtest"] = backtest_channel
        if alerts_channel is not None:
            channels["alerts"] = alerts_channel
        upstreams["current"] = Upstreams(channels=channels, nats=nc)
        try:
            yield
        finally:
            upstreams.clear()
            await nc.drain()
            await channel.close()
            await ingest_channel.close()
            if backtest_channel is not None:
                await backtest_channel.close()
            if alerts_channel is not None:
                await alerts_channel.close()

    def metrics(request: Request) -> Response:
        # A plain route: a mounted ASGI app would answer /metrics with a redirect to /metrics/.
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    graphql = QuantflowGraphQL(holder)
    return Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            *health_routes(lambda: upstreams.get("current")),
            Mount(ide.STATIC_PATH, ide.static_files()),
            Route("/metrics", metrics),
            # REST over the same schema, and its OpenAPI document and docs page.
            *rest_routes(lambda: holder.get("current")),
            *api_docs_routes(),
        ],
        middleware=[Middleware(BodySizeLimit)],
        lifespan=lifespan,
    )
