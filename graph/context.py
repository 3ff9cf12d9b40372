"""What resolvers reach: the storage, ingest, backtest and alerts gRPC stubs and the NATS
connection."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from nats.aio.client import Client as NatsClient

from graph.principal import RequestAuth, local_auth
from quantflow.alerts.v1 import alerts_service_pb2_grpc
from quantflow.backtest.v1 import backtest_service_pb2_grpc
from quantflow.market.v1 import ingest_service_pb2_grpc
from quantflow.storage.v1 import storage_service_pb2_grpc


@dataclass
class Backends:
    storage: storage_service_pb2_grpc.StorageServiceStub
    nats: NatsClient
    namespace: str
    # None for a gateway run without ingest: subscription mutations then answer UNAVAILABLE.
    ingest: ingest_service_pb2_grpc.IngestServiceStub | None = None
    # None for a gateway run without the backtest service: backtests answer UNAVAILABLE.
    backtest: backtest_service_pb2_grpc.BacktestServiceStub | None = None
    # None for a gateway run without the alerts service: alerts answer UNAVAILABLE.
    alerts: alerts_service_pb2_grpc.AlertsServiceStub | None = None


@dataclass
class Context:
    backends: Backends
    # This request's DataLoaders by name, made on first use (graph/loaders.py).
    loaders: dict[str, Any] = field(default_factory=dict)
    # Who the request acts as (graph/principal.py); by default the local admin.
    auth: RequestAuth = field(default_factory=local_auth)
    # A WebSocket's connection_init payload (strawberry sets it; graph/app.py reads it).
    connection_params: dict[str, object] | None = None
