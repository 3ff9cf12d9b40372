"""Webhook signatures: HMAC-SHA256 of the exact body, as ``sha256=<hex>``."""

from __future__ import annotations

from services.alerts.channels.signature import sign, verify


def test_signature_matches_the_rfc_4231_hmac_sha256_vector() -> None:
    # RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
    assert sign(b"what do ya want for nothing?", "Jefe") == (
        "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    )


def test_signature_verifies_its_own_body_only() -> None:
    body = b'{"ruleId":"r","price":"1"}'
    header = sign(body, "s3cret")

    assert verify(body, "s3cret", header)
    assert not verify(body.replace(b'"1"', b'"2"'), "s3cret", header)
    assert not verify(body, "other", header)
    assert not verify(body, "s3cret", header.removeprefix("sha256="))
