"""``quantflow dev fetch-docs-ui``: Swagger UI's script, stylesheet and licence from the npm
registry into ``graph/static/swagger-ui/``, so the REST docs page (``/docs``) works offline.
The pin below is the one place the version is chosen."""

from __future__ import annotations

import tempfile
from pathlib import Path

from graph import api_docs
from services.cli.graphiql_assets import (
    FetchError,
    NpmPackage,
    _extract,
    _npm_pack,
    integrity,
)

SWAGGER_UI = NpmPackage(
    "swagger-ui-dist",
    "5.35.0",
    {
        "swagger-ui-bundle.js": "swagger-ui-bundle.js",
        "swagger-ui.css": "swagger-ui.css",
        "LICENSE": "LICENSE.swagger-ui",
        "swagger-ui-bundle.js.LICENSE.txt": "THIRD-PARTY-LICENSES.swagger-ui-bundle.txt",
    },
    "Swagger UI, which renders /openapi.json as the /docs page (Apache-2.0); its bundle "
    "holds React and the rest of its dependencies, whose licences the .txt file lists",
)


def _readme(fetched: dict[str, bytes]) -> str:
    package = SWAGGER_UI
    lines = [
        "# Swagger UI, served from the package",
        "",
        "Written by `quantflow dev fetch-docs-ui` (services/cli/docs_assets.py, where the",
        "version is pinned) from the npm registry; do not edit by hand. graph/docs.html loads",
        f"these files from {api_docs.asset_url('')}.",
        "",
        "| file | from | bytes | sha384 |",
        "| --- | --- | --- | --- |",
    ]
    for path, name in package.files.items():
        lines.append(
            f"| {name} | {package.name}@{package.version} `{path}` | "
            f"{len(fetched[name])} | `{integrity(fetched[name])}` |"
        )
    lines += ["", f"- {package.name}@{package.version}: {package.why}."]
    return "\n".join(lines) + "\n"


def fetch_docs_ui() -> int:
    try:
        with tempfile.TemporaryDirectory() as scratch:
            fetched = _extract(_npm_pack(SWAGGER_UI, Path(scratch)), SWAGGER_UI)
    except FetchError as error:
        print(f"fetch-docs-ui: {error}")
        return 1
    api_docs.SWAGGER_UI_ASSETS.mkdir(parents=True, exist_ok=True)
    for stale in api_docs.SWAGGER_UI_ASSETS.iterdir():
        stale.unlink()
    for name, content in fetched.items():
        (api_docs.SWAGGER_UI_ASSETS / name).write_bytes(content)
    readme = api_docs.SWAGGER_UI_ASSETS / "README.md"
    readme.write_text(_readme(fetched), encoding="utf-8")
    print(f"wrote {len(fetched)} files to {api_docs.SWAGGER_UI_ASSETS}")
    return 0
