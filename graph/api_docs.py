"""``/openapi.json`` and ``/docs``: the REST routes' OpenAPI document and Swagger UI over it,
its script and stylesheet served from this package (graph/static/swagger-ui/, written by
``quantflow dev fetch-docs-ui``), so the page works without internet."""

from __future__ import annotations

from functools import cache
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route

from graph import ide
from graph.openapi import openapi_document
from graph.schema import schema

DOCS_PAGE = ide.HERE / "docs.html"
SWAGGER_UI_ASSETS = ide.STATIC_DIR / "swagger-ui"
OPENAPI_PATH = "/openapi.json"


def asset_url(name: str) -> str:
    """Where the page finds the vendored file ``name`` (under the static mount GraphiQL's
    files are served from)."""
    return f"{ide.STATIC_PATH}/{SWAGGER_UI_ASSETS.relative_to(ide.STATIC_DIR).as_posix()}/{name}"


@cache
def document() -> dict[str, Any]:
    return openapi_document(schema._schema)


@cache
def docs_html() -> str:
    return (
        DOCS_PAGE.read_text(encoding="utf-8")
        .replace("{{ASSETS}}", asset_url("").rstrip("/"))
        .replace("{{OPENAPI}}", OPENAPI_PATH)
    )


def api_docs_routes() -> list[Route]:
    async def openapi(request: Request) -> JSONResponse:
        return JSONResponse(document())

    async def docs(request: Request) -> HTMLResponse:
        return HTMLResponse(docs_html())

    return [Route(OPENAPI_PATH, openapi), Route("/docs", docs)]
