"""``quantflow dev fetch-graphiql``: GraphiQL's scripts, styles and licences from the npm
registry into ``graph/static/graphiql/``, and Strawberry's GraphiQL page rewritten to load
them from there. The pins below are the one place the versions are chosen."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

from strawberry.http.ides import get_graphql_ide_html

from graph import ide


@dataclass(frozen=True)
class NpmPackage:
    name: str
    version: str
    # path inside the package → file name in graph/static/graphiql/
    files: dict[str, str]
    why: str


# The versions Strawberry's GraphiQL page names; fetch-graphiql fails if they differ.
PACKAGES = (
    NpmPackage(
        "react",
        "18.2.0",
        {"umd/react.production.min.js": "react.production.min.js", "LICENSE": "LICENSE.react"},
        "React, the UI library GraphiQL is written in",
    ),
    NpmPackage(
        "react-dom",
        "18.2.0",
        {
            "umd/react-dom.production.min.js": "react-dom.production.min.js",
            "LICENSE": "LICENSE.react-dom",
        },
        "React's DOM renderer",
    ),
    NpmPackage(
        "js-cookie",
        "3.0.5",
        {"dist/js.cookie.min.js": "js.cookie.min.js", "LICENSE": "LICENSE.js-cookie"},
        "the page reads a csrftoken cookie with it",
    ),
    NpmPackage(
        "graphiql",
        "3.8.3",
        {
            "graphiql.min.js": "graphiql.min.js",
            "graphiql.min.css": "graphiql.min.css",
            "LICENSE": "LICENSE.graphiql",
        },
        "the IDE; its bundle holds @graphiql/react, graphql-js, CodeMirror 5 and the rest "
        "of its dependencies",
    ),
    NpmPackage(
        "@graphiql/plugin-explorer",
        "1.0.2",
        {"dist/index.umd.js": "plugin-explorer.umd.js", "dist/style.css": "plugin-explorer.css"},
        "the Explorer side panel; MIT like graphiql (same repository, graphql/graphiql), "
        "it ships no LICENSE file of its own",
    ),
    NpmPackage(
        "graphiql-explorer",
        "0.9.0",
        {"LICENSE": "LICENSE.graphiql-explorer"},
        "bundled inside plugin-explorer.umd.js; only its licence is kept",
    ),
)

CDN = "https://unpkg.com"


class FetchError(Exception):
    """Something fetch-graphiql cannot go on from; the message says what to change."""


def integrity(content: bytes) -> str:
    """The Subresource Integrity value a page states for ``content``."""
    return "sha384-" + base64.b64encode(hashlib.sha384(content).digest()).decode()


def localise_page(page: str, fetched: dict[str, bytes]) -> str:
    """Strawberry's GraphiQL page with each CDN address replaced by the vendored file's.

    ``fetched`` maps file names in graph/static/graphiql/ to their bytes. Each file must be the
    one the page names, byte for byte (its integrity attribute says so), and no address may be
    left pointing outside."""
    for package in PACKAGES:
        for path, name in package.files.items():
            if name.startswith("LICENSE"):
                continue
            cdn_url = f"{CDN}/{package.name}@{package.version}/{path}"
            if cdn_url not in page:
                raise FetchError(
                    f"Strawberry's GraphiQL page does not load {cdn_url}; "
                    "update PACKAGES in services/cli/graphiql_assets.py to what it loads"
                )
            stated = re.search(re.escape(cdn_url) + r'"\s+integrity="([^"]+)"', page)
            if stated and stated.group(1) != integrity(fetched[name]):
                raise FetchError(f"{package.name}@{package.version} {path} differs from {cdn_url}")
            page = page.replace(cdn_url, ide.asset_url(name))
    leftover = re.findall(r'(?:src|href)="(https?://[^"]+)"', page)
    if leftover:
        raise FetchError(
            f"Strawberry's GraphiQL page also loads {', '.join(leftover)}; "
            "add it to PACKAGES in services/cli/graphiql_assets.py"
        )
    return page


def _npm_pack(package: NpmPackage, into: Path) -> Path:
    spec = f"{package.name}@{package.version}"
    print(f"+ npm pack {spec}", flush=True)
    try:
        result = subprocess.run(
            ["npm", "pack", spec, "--json", "--pack-destination", str(into)],
            check=True,
            capture_output=True,
            text=True,
        )
    except FileNotFoundError:
        raise FetchError("npm is not installed; install Node.js and npm") from None
    except subprocess.CalledProcessError as error:
        raise FetchError(f"npm pack {spec} failed: {error.stderr.strip()}") from None
    filename: str = json.loads(result.stdout)[0]["filename"]
    return into / filename


def _extract(tarball: Path, package: NpmPackage) -> dict[str, bytes]:
    contents: dict[str, bytes] = {}
    with tarfile.open(tarball) as archive:
        for path, name in package.files.items():
            member = archive.extractfile(f"package/{path}")
            if member is None:
                raise FetchError(f"{package.name}@{package.version} has no file {path}")
            contents[name] = member.read()
    return contents


def _readme(fetched: dict[str, bytes]) -> str:
    lines = [
        "# GraphiQL, served from the package",
        "",
        "Written by `quantflow dev fetch-graphiql` (services/cli/graphiql_assets.py, where the",
        "versions are pinned) from the npm registry; do not edit by hand. graph/graphiql.html is",
        f"strawberry-graphql {version('strawberry-graphql')}'s GraphiQL page loading these files",
        f"from {ide.asset_url('')} instead of {CDN}. All are MIT-licensed.",
        "",
        "| file | from | bytes | sha384 |",
        "| --- | --- | --- | --- |",
    ]
    for package in PACKAGES:
        for path, name in package.files.items():
            lines.append(
                f"| {name} | {package.name}@{package.version} `{path}` | "
                f"{len(fetched[name])} | `{integrity(fetched[name])}` |"
            )
    lines += ["", "What each package is for:", ""]
    lines += [f"- {p.name}@{p.version}: {p.why}." for p in PACKAGES]
    return "\n".join(lines) + "\n"


def fetch_graphiql() -> int:
    try:
        with tempfile.TemporaryDirectory() as scratch:
            fetched: dict[str, bytes] = {}
            for package in PACKAGES:
                fetched.update(_extract(_npm_pack(package, Path(scratch)), package))
        page = localise_page(get_graphql_ide_html("graphiql"), fetched)
    except FetchError as error:
        print(f"fetch-graphiql: {error}")
        return 1
    ide.GRAPHIQL_ASSETS.mkdir(parents=True, exist_ok=True)
    for stale in ide.GRAPHIQL_ASSETS.iterdir():
        stale.unlink()
    for name, content in fetched.items():
        (ide.GRAPHIQL_ASSETS / name).write_bytes(content)
    (ide.GRAPHIQL_ASSETS / "README.md").write_text(_readme(fetched), encoding="utf-8")
    notice = "<!-- Written by `quantflow dev fetch-graphiql`; do not edit by hand. -->"
    page = page.replace("<!doctype html>", f"<!doctype html>\n{notice}", 1)
    ide.GRAPHIQL_PAGE.write_text(page, encoding="utf-8")
    print(f"wrote {len(fetched)} files to {ide.GRAPHIQL_ASSETS} and {ide.GRAPHIQL_PAGE}")
    return 0
