"""npm packages the tooling needs (Apollo's composition, the PGlite test server), installed
from a committed lock file into a cache folder: no hand step, nothing system-wide."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

INSTALL_TIMEOUT_S = 300


def cache_root() -> Path:
    """``$XDG_CACHE_HOME/quantflow`` (default ``~/.cache/quantflow``)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "quantflow"


def install_locked(source: Path, files: Sequence[str], name: str) -> Path:
    """A folder holding ``files`` copied from ``source`` (package.json, package-lock.json and
    the script) and their node_modules from ``npm ci``, named ``<name>-<hash of the files>``
    so a changed lock installs afresh. Installed beside it, then renamed into place: two runs
    never share a half-done install, and the second to finish keeps the first one's."""
    digest = hashlib.sha256(b"".join((source / file).read_bytes() for file in files))
    folder = cache_root() / f"{name}-{digest.hexdigest()[:16]}"
    if folder.is_dir():
        return folder
    scratch = folder.with_name(f"{folder.name}.{os.getpid()}")
    scratch.mkdir(parents=True, exist_ok=True)
    for file in files:
        shutil.copyfile(source / file, scratch / file)
    subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=scratch,
        check=True,
        timeout=INSTALL_TIMEOUT_S,
    )
    try:
        scratch.rename(folder)
    except OSError:
        shutil.rmtree(scratch)
    return folder
