"""What resolvers reach: the storage and ingest gRPC stubs and the NATS connection."""

from __future__ import annotations

from dataclasses import dataclass

from nats.aio.client import Client as NatsClient

from quantflow.market.v1 import ingest_service_pb2_grpc
from quantflow.storage.v1 import storage_service_pb2_grpc


@dataclass
class Backends:
    storage: storage_service_pb2_grpc.StorageServiceStub
    nats: NatsClient
    namespace: str
    # None for a gateway run without ingest: subscription mutations then answer UNAVAILABLE.
    ingest: ingest_service_pb2_grpc.IngestServiceStub | None = None


@dataclass
class Context:
    backends: Backends
