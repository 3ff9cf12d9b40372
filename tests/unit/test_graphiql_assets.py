"""fetch-graphiql's page rewrite: every CDN address becomes the vendored file's, or it stops."""

from __future__ import annotations

import pytest

from services.cli.graphiql_assets import PACKAGES, FetchError, integrity, localise_page


def strawberry_like_page(files: dict[str, bytes]) -> str:
    """A page loading every pinned file from the CDN, as Strawberry's does."""
    tags = []
    for package in PACKAGES:
        for path, name in package.files.items():
            if not name.startswith("LICENSE"):
                url = f"https://unpkg.com/{package.name}@{package.version}/{path}"
                tags.append(f'<script src="{url}"\n integrity="{integrity(files[name])}"></script>')
    return "\n".join(tags)


def pinned_files() -> dict[str, bytes]:
    return {name: name.encode() for p in PACKAGES for name in p.files.values()}


def test_localise_page_points_every_cdn_address_at_the_vendored_file() -> None:
    files = pinned_files()
    page = localise_page(strawberry_like_page(files), files)
    assert "unpkg" not in page
    assert '<script src="/graphql-static/graphiql/graphiql.min.js"' in page


def test_localise_page_rejects_a_file_other_than_the_one_the_page_names() -> None:
    files = pinned_files()
    page = strawberry_like_page(files)
    files["graphiql.min.js"] = b"something else"
    with pytest.raises(FetchError, match=r"graphiql@3\.8\.3 graphiql\.min\.js differs"):
        localise_page(page, files)


def test_localise_page_rejects_an_outside_address_it_has_no_pin_for() -> None:
    files = pinned_files()
    page = strawberry_like_page(files) + '<script src="https://unpkg.com/left-pad@1.3.0/x.js">'
    with pytest.raises(FetchError, match=r"also loads https://unpkg\.com/left-pad"):
        localise_page(page, files)


def test_localise_page_rejects_a_page_that_loads_another_version() -> None:
    files = pinned_files()
    page = strawberry_like_page(files).replace("graphiql@3.8.3", "graphiql@4.0.0")
    with pytest.raises(FetchError, match=r"does not load https://unpkg\.com/graphiql@3\.8\.3"):
        localise_page(page, files)
