"""services/common/grpc_server.py: a real aio server on loopback, reached by real clients."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from google.protobuf.descriptor_pool import DescriptorPool
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

from quantflow.storage.v1 import storage_service_pb2_grpc
from services.common.grpc_server import start_grpc_server
from services.storage.service import SERVICE_NAME as STORAGE_SERVICE

pytestmark = pytest.mark.integration


def _reflect(target: str) -> tuple[list[str], list[str]]:
    """What grpcurl does without protos: list the services, then resolve one's methods."""
    with grpc.insecure_channel(target) as channel:
        database = ProtoReflectionDescriptorDatabase(channel)
        services = sorted(database.get_services())
        # A pool fed only by the server's answers, not by the protos imported here.
        descriptor = DescriptorPool(database).FindServiceByName(STORAGE_SERVICE)
        method = descriptor.methods_by_name["GetLatestPrice"]
        return services, [method.input_type.full_name, method.output_type.full_name]


async def test_server_reflection_lists_every_service_and_resolves_a_method() -> None:
    server = await start_grpc_server(
        "127.0.0.1",
        0,
        lambda s: storage_service_pb2_grpc.add_StorageServiceServicer_to_server(
            storage_service_pb2_grpc.StorageServiceServicer(), s
        ),
        [STORAGE_SERVICE],
    )
    try:
        # The reflection client is synchronous: run it off the loop that serves it.
        services, types = await asyncio.to_thread(_reflect, f"127.0.0.1:{server.port}")
    finally:
        await server.stop(grace=0)
    assert services == [
        "grpc.health.v1.Health",
        "grpc.reflection.v1alpha.ServerReflection",
        "quantflow.storage.v1.StorageService",
    ]
    assert types == [
        "quantflow.storage.v1.GetLatestPriceRequest",
        "quantflow.storage.v1.GetLatestPriceResponse",
    ]
