"""Typed GraphQL errors: a code in ``extensions`` and a message; everything else masked."""

from __future__ import annotations

import grpc
from graphql import GraphQLError

# gRPC status → the code clients see in errors[].extensions.code.
_CODES = {
    grpc.StatusCode.NOT_FOUND: "NOT_FOUND",
    grpc.StatusCode.INVALID_ARGUMENT: "INVALID_ARGUMENT",
    grpc.StatusCode.ALREADY_EXISTS: "CONFLICT",
    grpc.StatusCode.FAILED_PRECONDITION: "FAILED_PRECONDITION",
    grpc.StatusCode.UNAVAILABLE: "UNAVAILABLE",
    grpc.StatusCode.DEADLINE_EXCEEDED: "UNAVAILABLE",
}


class TypedError(GraphQLError):
    """An error the client may act on."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, extensions={"code": code})


def from_rpc_error(error: grpc.aio.AioRpcError, what: str) -> GraphQLError:
    code = _CODES.get(error.code())
    if code is None:
        return GraphQLError(f"{what} failed")  # masked: no internals leak
    if code == "UNAVAILABLE":
        return TypedError(code, f"{what}: the service is unavailable, try again")
    return TypedError(code, error.details() or what)


def is_bad_variable(error: GraphQLError) -> bool:
    """A variable the schema refused before execution (``Variable '$from' got invalid value
    …``): a request error whose message, from the scalar's parser, names the bad value. It
    carries the parser's exception, yet is the client's to fix, not a fault."""
    return error.path is None and error.message.startswith("Variable '$")


def should_mask(error: GraphQLError) -> bool:
    """Mask anything that is not a typed error or a GraphQL validation error."""
    original = error.original_error
    if original is None or is_bad_variable(error):
        return False  # syntax, validation and variable errors: safe and useful as they are
    if isinstance(original, GraphQLError):
        return not (original.extensions and "code" in original.extensions)
    return True
