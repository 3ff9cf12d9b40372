"""The shared service token: every gRPC call between QuantFlow processes carries it in the
``x-quantflow-service-token`` metadata, and every server refuses calls without it
(UNAUTHENTICATED). Health checks stay open, so probes need no secret.

Unset (``QUANTFLOW_SERVICE_TOKEN`` empty, the default in tests and for a bare ``quantflow
serve``), nothing is sent and nothing is checked; ``quantflow up`` makes one per run.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import grpc
from pydantic import SecretStr

METADATA_KEY = "x-quantflow-service-token"
# Open without the token: what Kubernetes probes and `quantflow status` call.
_OPEN_PREFIXES = ("/grpc.health.v1.Health/",)


def _secret(token: SecretStr | str | None) -> str | None:
    value = token.get_secret_value() if isinstance(token, SecretStr) else token
    return value or None


class ServiceTokenCheck(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Refuses every call but health checks unless it carries the token."""

    def __init__(self, token: str) -> None:
        self._token = token.encode()

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        method = handler_call_details.method or ""
        if (
            handler is None
            or method.startswith(_OPEN_PREFIXES)
            or self._carries_token(handler_call_details.invocation_metadata or ())
        ):
            return handler
        return _refusing(handler)

    def _carries_token(self, metadata: Sequence[tuple[str, str | bytes]]) -> bool:
        for key, value in metadata:
            if key == METADATA_KEY:
                given = value if isinstance(value, bytes) else value.encode()
                return hmac.compare_digest(given, self._token)
        return False


_REFUSAL = "this call needs the service token (QUANTFLOW_SERVICE_TOKEN)"


def _refusing(handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
    async def refuse(request: Any, context: grpc.aio.ServicerContext) -> Any:
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, _REFUSAL)

    async def refuse_stream(request: Any, context: grpc.aio.ServicerContext) -> Any:
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, _REFUSAL)
        yield  # pragma: no cover - abort raises

    kinds = {
        "request_deserializer": handler.request_deserializer,
        "response_serializer": handler.response_serializer,
    }
    if handler.unary_unary is not None:
        return grpc.unary_unary_rpc_method_handler(refuse, **kinds)
    if handler.unary_stream is not None:
        return grpc.unary_stream_rpc_method_handler(refuse_stream, **kinds)
    if handler.stream_unary is not None:
        return grpc.stream_unary_rpc_method_handler(refuse, **kinds)
    return grpc.stream_stream_rpc_method_handler(refuse_stream, **kinds)


def server_interceptors(token: SecretStr | str | None) -> list[grpc.aio.ServerInterceptor]:
    secret = _secret(token)
    return [ServiceTokenCheck(secret)] if secret else []


def _with_token(details: grpc.aio.ClientCallDetails, token: str) -> grpc.aio.ClientCallDetails:
    metadata = grpc.aio.Metadata(*(details.metadata or ()), (METADATA_KEY, token))
    return grpc.aio.ClientCallDetails(
        details.method, details.timeout, metadata, details.credentials, details.wait_for_ready
    )


# One class per call kind: grpc.aio files an interceptor under the first kind it matches.
class _AddTokenUnary(grpc.aio.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    def __init__(self, token: str) -> None:
        self._token = token

    async def intercept_unary_unary(
        self, continuation: Callable[..., Any], details: grpc.aio.ClientCallDetails, request: Any
    ) -> Any:
        return await continuation(_with_token(details, self._token), request)


class _AddTokenStream(grpc.aio.UnaryStreamClientInterceptor):  # type: ignore[misc]
    def __init__(self, token: str) -> None:
        self._token = token

    async def intercept_unary_stream(
        self, continuation: Callable[..., Any], details: grpc.aio.ClientCallDetails, request: Any
    ) -> Any:
        return await continuation(_with_token(details, self._token), request)


def service_channel(
    target: str,
    token: SecretStr | str | None,
    options: Sequence[tuple[str, Any]] = (),
) -> grpc.aio.Channel:
    """An insecure (loopback or cluster-internal) channel that sends the service token on
    every call, when there is one (QuantFlow's services have unary and server-streaming
    methods only)."""
    secret = _secret(token)
    interceptors = [_AddTokenUnary(secret), _AddTokenStream(secret)] if secret else None
    return grpc.aio.insecure_channel(target, options=list(options), interceptors=interceptors)
