"""gRPC plumbing every service shares: an aio server with the standard health and reflection
services and one interceptor that turns QuantFlow errors into status codes."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from pydantic import SecretStr

from services.common.errors import QuantflowError
from services.common.service_token import server_interceptors

log = logging.getLogger(__name__)

Register = Callable[[grpc.aio.Server], None]


class ErrorInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Maps :class:`QuantflowError` to its status code; anything else stays INTERNAL."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        if handler.unary_unary is not None:
            return _mapped_unary(handler)
        if handler.unary_stream is not None:
            return _mapped_stream(handler)
        return handler


def _mapped_unary(handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
    inner = handler.unary_unary

    async def unary_unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
        try:
            return await inner(request, context)
        except QuantflowError as error:
            await context.abort(grpc.StatusCode[error.code], str(error))

    return grpc.unary_unary_rpc_method_handler(
        unary_unary,
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )


def _mapped_stream(handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
    """The same for server-streaming methods: an error before or between messages."""
    inner = handler.unary_stream

    async def unary_stream(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        try:
            async for reply in inner(request, context):
                yield reply
        except QuantflowError as error:
            await context.abort(grpc.StatusCode[error.code], str(error))

    return grpc.unary_stream_rpc_method_handler(
        unary_stream,
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )


@dataclass
class GrpcServer:
    """A started server: its bound port and its health servicer."""

    server: grpc.aio.Server
    port: int
    health: health.aio.HealthServicer
    service_names: tuple[str, ...] = ()

    async def serve(self) -> None:
        """Mark the server and its services SERVING."""
        for name in ("", *self.service_names):
            await self.health.set(name, health_pb2.HealthCheckResponse.SERVING)

    async def stop(self, grace: float = 5.0) -> None:
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace)


async def start_grpc_server(
    host: str,
    port: int,
    register: Register,
    service_names: Iterable[str],
    options: Sequence[tuple[str, Any]] = (),
    service_token: SecretStr | str | None = None,
    *,
    serving: bool = True,
) -> GrpcServer:
    """Bind ``host:port`` (0 picks a free port), register services, mark them SERVING
    (``serving=False``: NOT_SERVING until the caller's :meth:`GrpcServer.serve`).

    ``service_names`` are the full names of the services ``register`` adds. Server reflection
    lists them beside health and reflection itself, so grpcurl, Postman or Kreya can call
    every service without the protos. ``options`` are gRPC channel arguments (message size
    limits, say). With a ``service_token``, every call but health checks must carry it
    (services/common/service_token.py).
    """
    service_names = tuple(service_names)
    server = grpc.aio.server(
        interceptors=[*server_interceptors(service_token), ErrorInterceptor()],
        options=list(options),
    )
    register(server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        (*service_names, health.SERVICE_NAME, reflection.SERVICE_NAME), server
    )
    bound = server.add_insecure_port(f"{host}:{port}")
    if bound == 0:
        raise OSError(f"cannot listen for gRPC on {host}:{port}")
    await server.start()
    started = GrpcServer(server, bound, health_servicer, service_names)
    if serving:
        await started.serve()
    else:
        for name in ("", *service_names):
            await health_servicer.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
    log.info("gRPC listening on %s:%d", host, bound)
    return started


async def check_health(target: str, timeout: float = 2.0) -> str:
    """The overall health of the server at ``target``: SERVING, NOT_SERVING or UNREACHABLE."""
    try:
        async with grpc.aio.insecure_channel(target) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            reply = await stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=timeout)
    except grpc.aio.AioRpcError:
        return "UNREACHABLE"
    return str(health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))
