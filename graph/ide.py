"""GraphiQL served from this package: its page and every script and stylesheet it loads, so
the IDE works without internet (Strawberry's own page loads them from a CDN)."""

from __future__ import annotations

from pathlib import Path

from starlette.staticfiles import StaticFiles

HERE = Path(__file__).parent
# Strawberry's GraphiQL page with its CDN addresses turned into STATIC_PATH ones; written,
# with the files in GRAPHIQL_ASSETS, by `quantflow dev fetch-graphiql`.
GRAPHIQL_PAGE = HERE / "graphiql.html"
STATIC_DIR = HERE / "static"
GRAPHIQL_ASSETS = STATIC_DIR / "graphiql"
STATIC_PATH = "/graphql-static"


def asset_url(name: str) -> str:
    """Where the page finds the vendored file ``name``."""
    return f"{STATIC_PATH}/{GRAPHIQL_ASSETS.relative_to(STATIC_DIR).as_posix()}/{name}"


def graphiql_html() -> str:
    return GRAPHIQL_PAGE.read_text(encoding="utf-8")


def static_files() -> StaticFiles:
    return StaticFiles(directory=STATIC_DIR)
