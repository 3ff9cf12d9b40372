"""Reaching AlertsService from resolvers: the stub (UNAVAILABLE when this gateway has none),
its errors as typed GraphQL errors, and the proto's epoch-millisecond times as DateTimes."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import grpc
from graphql import GraphQLError
from strawberry.types import Info

from graph.context import Context
from graph.errors import TypedError, from_rpc_error
from quantflow.alerts.v1 import alerts_service_pb2_grpc

RPC_TIMEOUT_S = 10.0
_COLUMN = re.compile(r"at column (\d+)")


def time_from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def optional_time(message: object, name: str) -> datetime | None:
    """The DateTime of an ``optional int64 *_ms`` field; None when it is not set."""
    if not message.HasField(name):  # type: ignore[attr-defined]
        return None
    return time_from_ms(getattr(message, name))


def alerts_stub(info: Info[Context, None]) -> alerts_service_pb2_grpc.AlertsServiceStub:
    stub = info.context.backends.alerts
    if stub is None:
        raise TypedError("UNAVAILABLE", "this gateway is not connected to the alerts service")
    return stub


def alerts_error(error: grpc.aio.AioRpcError, what: str) -> GraphQLError:
    """The typed error of a failed AlertsService call; a condition's problem also carries
    its 1-based ``column`` in ``extensions``."""
    mapped = from_rpc_error(error, what)
    extensions = mapped.extensions
    if extensions is not None and extensions.get("code") == "INVALID_ARGUMENT":
        found = _COLUMN.search(mapped.message)
        if found:
            extensions["column"] = int(found.group(1))
    return mapped
