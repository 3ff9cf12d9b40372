"""The one small tree of QuantFlow errors.

Each error names the gRPC status it maps to (by name, so this module stays free of grpc).
The gRPC interceptor and the GraphQL gateway translate them once at the boundary.
"""

from __future__ import annotations


class QuantflowError(Exception):
    """Base of every error QuantFlow raises on purpose."""

    code = "INTERNAL"
    retryable = False


class InvalidArgument(QuantflowError, ValueError):
    """The caller asked for something malformed; fix the request.

    Also a ``ValueError``, so pydantic validators and parsers that expect one accept it.
    """

    code = "INVALID_ARGUMENT"


class NotFound(QuantflowError):
    """The thing asked for does not exist (yet)."""

    code = "NOT_FOUND"


class FailedPrecondition(QuantflowError):
    """The request cannot work in the current state (e.g. subscribing while replaying)."""

    code = "FAILED_PRECONDITION"


class Unavailable(QuantflowError):
    """A dependency (database, bus, another service) cannot be reached right now."""

    code = "UNAVAILABLE"
    retryable = True


class Conflict(QuantflowError):
    """The thing to create exists already (a user of that name, say)."""

    code = "ALREADY_EXISTS"


class Unauthenticated(QuantflowError):
    """The caller did not prove who it is (no, or a wrong, token)."""

    code = "UNAUTHENTICATED"
