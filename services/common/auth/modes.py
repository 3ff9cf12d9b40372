"""Where authentication applies: ``required`` (every request names a user or API key) or
``local`` (requests without a token act as the local admin)."""

from __future__ import annotations

import ipaddress
from enum import StrEnum


class AuthMode(StrEnum):
    REQUIRED = "required"
    LOCAL = "local"


# The user a tokenless request acts as in local mode.
LOCAL_USER = "local"


def is_loopback(host: str) -> bool:
    """True for an address only this machine can reach ("localhost", 127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve to anything


def effective_mode(configured: AuthMode, graph_host: str) -> AuthMode:
    """``configured``, except that a graph listening beyond loopback always requires auth:
    local mode there would make everyone on the network the admin."""
    if not is_loopback(graph_host):
        return AuthMode.REQUIRED
    return configured
