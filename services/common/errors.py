"""The one small tree of QuantFlow errors.

Each error names the gRPC status it maps to (by name, so this module stays free of grpc)
and whether retrying may help. The gRPC interceptor and the GraphQL gateway translate them
once at the boundary.
"""

from __future__ import annotations


class QuantflowError(Exception):
    """Base of every error QuantFlow raises on purpose."""

    code = "INTERNAL"
    retryable = False


class InvalidArgument(QuantflowError):
    """The caller asked for something malformed; fix the request."""

    code = "INVALID_ARGUMENT"


class NotFound(QuantflowError):
    """The thing asked for does not exist (yet)."""

    code = "NOT_FOUND"


class Conflict(QuantflowError):
    """The request clashes with the current state."""

    code = "ALREADY_EXISTS"


class Unavailable(QuantflowError):
    """A dependency (database, bus, another service) cannot be reached right now."""

    code = "UNAVAILABLE"
    retryable = True
