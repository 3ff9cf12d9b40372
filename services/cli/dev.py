"""``quantflow dev <verb>``: the few tasks a contributor runs (needs ``pip install -e .[dev]``)."""

from __future__ import annotations

import filecmp
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROTOS = ROOT / "protos"
GENERATED = ROOT / "gen" / "python"


def _run(*command: str) -> int:
    print("+", " ".join(command), flush=True)
    return subprocess.call(command, cwd=ROOT)


def _tool(name: str) -> str:
    """A console script installed beside this Python (ruff, mypy, buf …)."""
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else name


def generate(out: Path = GENERATED) -> int:
    """Regenerate Python from protos/ with grpcio-tools (buf's remote plugins need a network)."""
    protos = sorted(str(p.relative_to(PROTOS)) for p in PROTOS.rglob("*.proto"))
    shutil.rmtree(out / "quantflow", ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    return _run(
        sys.executable,
        "-m",
        "grpc_tools.protoc",
        f"-I{PROTOS}",
        f"--python_out={out}",
        f"--pyi_out={out}",
        f"--grpc_python_out={out}",
        *protos,
    )


def check_generated() -> int:
    """Fail when gen/python differs from what protos/ generate."""
    with tempfile.TemporaryDirectory() as scratch:
        fresh = Path(scratch)
        if generate(fresh) != 0:
            return 1
        comparison = filecmp.dircmp(fresh / "quantflow", GENERATED / "quantflow")
        differences: list[str] = []

        def collect(node: filecmp.dircmp[str], prefix: str) -> None:
            differences.extend(
                f"{prefix}{n}" for n in node.left_only + node.right_only + node.diff_files
            )
            for name, child in node.subdirs.items():
                collect(child, f"{prefix}{name}/")

        collect(comparison, "gen/python/quantflow/")
        differences = [d for d in differences if "__pycache__" not in d]
    if differences:
        print("generated code is stale; run `quantflow dev generate`:", *differences, sep="\n  ")
        return 1
    print("generated code is in sync with protos/")
    return 0


def install_browser() -> int:
    """Debian's Chromium, which the GraphiQL browser test drives (Playwright never downloads
    a browser here: the machines reach package registries only)."""
    found = shutil.which("chromium")
    if found:
        print(f"chromium is installed: {found}")
        return 0
    os.environ["DEBIAN_FRONTEND"] = "noninteractive"
    return _run("apt-get", "update", "-q") or _run("apt-get", "install", "-y", "-q", "chromium")


def run(verb: str, rest: list[str]) -> int:
    if verb == "lint":
        return (
            _run(_tool("ruff"), "check", ".", *rest)
            or _run(_tool("ruff"), "format", "--check", ".")
            or _run(_tool("buf"), "lint")
        )
    if verb == "typecheck":
        return _run(_tool("mypy"), *rest)
    if verb == "test":
        return _run(sys.executable, "-m", "pytest", *rest)
    if verb == "generate":
        return generate()
    if verb == "check-generated":
        return check_generated()
    if verb == "bench":
        return _run(sys.executable, "-m", "bench", *rest)
    if verb == "fetch-graphiql":
        from services.cli.graphiql_assets import fetch_graphiql

        return fetch_graphiql()
    if verb == "install-browser":
        return install_browser()
    if verb == "fetch-docs-ui":
        from services.cli.docs_assets import fetch_docs_ui

        return fetch_docs_ui()
    if verb in ("export-schema", "check-schema"):
        from services.cli import supergraph

        return supergraph.export_schema() if verb == "export-schema" else supergraph.check_schema()
    if verb == "helm-check":
        from services.cli.helm_check import main

        return main()
    raise SystemExit(f"unknown verb {verb}")
