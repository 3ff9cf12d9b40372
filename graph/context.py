"""What resolvers reach: the storage gRPC stub and the NATS connection."""

from __future__ import annotations

from dataclasses import dataclass

from nats.aio.client import Client as NatsClient

from quantflow.storage.v1 import storage_service_pb2_grpc


@dataclass
class Backends:
    storage: storage_service_pb2_grpc.StorageServiceStub
    nats: NatsClient
    namespace: str


@dataclass
class Context:
    backends: Backends
