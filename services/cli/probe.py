"""Is a server listening where a URL points? A TCP connect, nothing more: what ``up`` checks
before it starts and what ``status`` reports, without speaking each server's protocol."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

DEFAULT_PORTS = {"postgresql": 5432, "postgres": 5432, "nats": 4222}
PROBE_TIMEOUT_S = 2.0


def unreachable_reason(url: str, timeout_s: float = PROBE_TIMEOUT_S) -> str | None:
    """None if something accepts TCP connections where ``url`` points, else why not."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "127.0.0.1"
        port = parts.port or DEFAULT_PORTS.get(parts.scheme, 0)
    except ValueError as error:
        return f"not a URL ({error})"
    if not port:
        return "no port in the URL"
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return None
    except OSError as error:
        return error.strerror or str(error) or type(error).__name__
