"""The committed SDL composes with Apollo's @apollo/composition (npm, real Node.js), and a
subgraph that breaks a federation rule does not: the CI check can fail."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from services.cli.supergraph import SDL_FILE, compose

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def _node() -> None:
    missing = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    if missing:
        message = f"composition needs Node.js and npm ({' and '.join(missing)} not found)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


def test_committed_sdl_composes_into_a_supergraph_with_symbol_as_an_entity(
    tmp_path: Path,
) -> None:
    out = tmp_path / "supergraph.graphql"
    assert compose(SDL_FILE, out) == 0
    supergraph = out.read_text(encoding="utf-8")
    assert '@join__type(graph: QUANTFLOW, key: "name venue")' in supergraph


def test_a_key_on_a_field_the_entity_lacks_fails_composition(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.graphql"
    text = SDL_FILE.read_text(encoding="utf-8")
    broken.write_text(text.replace('@key(fields: "name venue")', '@key(fields: "ticker")'))
    assert compose(broken) == 1
    assert "KEY_INVALID_FIELDS" in capfd.readouterr().err
