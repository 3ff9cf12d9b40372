"""Auth modes: local only where nobody else can connect."""

from __future__ import annotations

import pytest

from services.common.auth.modes import AuthMode, effective_mode, is_loopback


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.1", "localhost", "::1", "[::1]"])
def test_loopback_hosts_keep_the_configured_mode(host: str) -> None:
    assert is_loopback(host)
    assert effective_mode(AuthMode.LOCAL, host) is AuthMode.LOCAL
    assert effective_mode(AuthMode.REQUIRED, host) is AuthMode.REQUIRED


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.5", "graph.example", ""])
def test_any_other_host_forces_required(host: str) -> None:
    assert not is_loopback(host)
    assert effective_mode(AuthMode.LOCAL, host) is AuthMode.REQUIRED
