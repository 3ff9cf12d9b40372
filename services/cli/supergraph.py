"""``quantflow dev export-schema`` and ``check-schema``: the gateway's SDL committed as
``graph/schema.graphql``, checked for staleness and composed as an Apollo Federation 2
subgraph with Apollo's own ``@apollo/composition`` (npm, installed from the committed lock
file into a cache folder: no hand step)."""

from __future__ import annotations

import difflib
import shutil
import subprocess
import tempfile
from pathlib import Path

from services.cli.npm_install import install_locked

ROOT = Path(__file__).resolve().parents[2]
SDL_FILE = ROOT / "graph" / "schema.graphql"
COMPOSER = ROOT / "graph" / "supergraph"
_COMPOSER_FILES = ("package.json", "package-lock.json", "compose.mjs")
SUBGRAPH_NAME = "quantflow"


def current_sdl() -> str:
    """The SDL the gateway serves (``_service { sdl }`` prints the same schema)."""
    from graph.schema import schema

    return schema.as_str() + "\n"


def export_schema(target: Path = SDL_FILE) -> int:
    target.write_text(current_sdl(), encoding="utf-8")
    print(f"wrote {target.relative_to(ROOT)}")
    return 0


def stale_diff(committed: str, current: str) -> list[str]:
    """The unified diff from the committed SDL to the current one; empty when in sync."""
    return list(
        difflib.unified_diff(
            committed.splitlines(),
            current.splitlines(),
            "graph/schema.graphql (committed)",
            "graph/schema.graphql (from the code)",
            lineterm="",
        )
    )


def install_composer() -> Path:
    """A folder with compose.mjs and its node_modules."""
    return install_locked(COMPOSER, _COMPOSER_FILES, "supergraph")


def compose(sdl_file: Path, supergraph_out: Path | None = None) -> int:
    """Exit status of composing ``sdl_file`` alone into a supergraph (1: errors, printed)."""
    missing = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    if missing:
        print(f"composition needs Node.js and npm ({' and '.join(missing)} not found)")
        return 1
    folder = install_composer()
    command = ["node", str(folder / "compose.mjs"), SUBGRAPH_NAME, str(sdl_file)]
    if supergraph_out is not None:
        command.append(str(supergraph_out))
    return subprocess.call(command)


def check_schema(sdl_file: Path = SDL_FILE) -> int:
    """Fail when graph/schema.graphql is stale or does not compose."""
    committed = sdl_file.read_text(encoding="utf-8") if sdl_file.exists() else ""
    diff = stale_diff(committed, current_sdl())
    if diff:
        print(*diff[:60], sep="\n")
        print(
            "graph/schema.graphql is stale: run `quantflow dev export-schema` and commit it"
            + (f" ({len(diff) - 60} more diff lines)" if len(diff) > 60 else "")
        )
        return 1
    print("graph/schema.graphql is in sync with the code")
    with tempfile.TemporaryDirectory() as scratch:
        return compose(sdl_file, Path(scratch) / "supergraph.graphql")
