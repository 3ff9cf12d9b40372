"""Webhook signatures: ``X-QuantFlow-Signature: sha256=<hex>``, the HMAC-SHA256 of the
exact request body keyed with the channel's secret (the scheme GitHub uses, so receivers
can reuse their verifiers)."""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-QuantFlow-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
_PREFIX = "sha256="


def sign(body: bytes, secret: str) -> str:
    """The header value for ``body``."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return _PREFIX + digest


def verify(body: bytes, secret: str, header: str) -> bool:
    """Whether ``header`` is ``body``'s signature under ``secret`` (constant time)."""
    return hmac.compare_digest(sign(body, secret), header.strip())
