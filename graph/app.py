"""The Starlette application: GraphQL (GraphiQL, graphql-transport-ws and legacy graphql-ws),
REST routes with their OpenAPI document and docs page, health, metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route, WebSocketRoute
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL

from graph import ide
from graph.api_docs import api_docs_routes
from graph.authenticator import AuthConfig, Authenticator
from graph.body_limit import BodySizeLimit
from graph.context import Backends, Context
from graph.health_routes import Upstreams, health_routes
from graph.principal import RequestAuth
from graph.rest import rest_routes
from graph.schema import schema
from quantflow.alerts.v1 import alerts_service_pb2_grpc
from quantflow.backtest.v1 import backtest_service_pb2_grpc
from quantflow.market.v1 import ingest_service_pb2_grpc
from quantflow.storage.v1 import storage_service_pb2_grpc
from services.common import bus
from services.common.service_token import service_channel


class QuantflowGraphQL(GraphQL[Context, None]):
    def __init__(
        self, backends: dict[str, Backends], authenticators: dict[str, Authenticator]
    ) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql",
            # graphql-ws: the legacy subprotocol older Apollo clients still speak.
            subscription_protocols=[GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL],
            keep_alive=True,
            keep_alive_interval=15,
        )
        self._backends = backends
        self._authenticators = authenticators
        self._graphiql_html = ide.graphiql_html()

    @property
    def graphql_ide_html(self) -> str:
        """GraphiQL loading its scripts from this server, not a CDN: it works offline."""
        return self._graphiql_html

    async def get_context(self, request: Any, response: Any) -> Context:
        if isinstance(request, Request):
            auth = await self.authenticate(request, response)
        else:  # a WebSocket: nobody until its connection_init (on_ws_connect)
            auth = RequestAuth(None, anonymous_client=_address(request))
        return Context(backends=self._backends["current"], auth=auth)

    async def authenticate(self, request: Request, response: Any) -> RequestAuth:
        """Who an HTTP request (/graphql or a REST route) acts as, from its headers."""
        return await self._authenticators["current"].authenticate(
            request.headers.get("authorization"), _address(request), response
        )

    async def on_ws_connect(self, context: Context) -> None:
        """Authenticate a WebSocket by its ``connection_init`` payload (never its URL, which
        proxies log); refused credentials, or none where auth is required, close it (4403)."""
        auth = await self._authenticators["current"].authenticate_connection(
            context.connection_params, context.auth.anonymous_client
        )
        if auth.refused is not None or auth.principal is None:
            raise ConnectionRejectionError()
        context.auth = auth


def _address(connection: Any) -> str:
    client = getattr(connection, "client", None)
    return f"address:{client.host if client is not None else 'unknown'}"


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
    auth: AuthConfig | None = None,
    service_token: SecretStr | None = None,
) -> Starlette:
    """``auth`` None: local mode without accounts (tokenless requests act as the local
    admin; login answers UNAVAILABLE)."""
    holder: dict[str, Backends] = {}
    authenticators: dict[str, Authenticator] = {}
    upstreams: dict[str, Upstreams] = {}

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        channel = service_channel(storage_target, service_token)
        ingest_channel = service_channel(ingest_target, service_token)
        backtest_channel = (
            service_channel(backtest_target, service_token, _BACKTEST_CHANNEL)
            if backtest_target
            else None
        )
        authenticators["current"] = await Authenticator.start(auth)
        alerts_channel = service_channel(alerts_target, service_token) if alerts_target else None
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
            await authenticators["current"].close()
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

    graphql = QuantflowGraphQL(holder, authenticators)
    return Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            *health_routes(lambda: upstreams.get("current")),
            Mount(ide.STATIC_PATH, ide.static_files()),
            Route("/metrics", metrics),
            # REST over the same schema, and its OpenAPI document and docs page.
            *rest_routes(lambda: holder.get("current"), graphql.authenticate),
            *api_docs_routes(),
        ],
        middleware=[Middleware(BodySizeLimit)],
        lifespan=lifespan,
    )
