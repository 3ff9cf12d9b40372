"""The Helm chart (helm/quantflow), rendered by a real Helm 3 (fetched from the npm registry,
see services/cli/helm_check.py) and read back: each CI value set lints with --strict and
validates against the Kubernetes schemas, and the manifests do what the chart promises —
restricted pods with gRPC/HTTP probes, ingest shards that cover every symbol once, one
ConfigMap the code accepts, secrets only from a Secret, exact network policies."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import SecretStr

from graph.authenticator import AuthConfig
from services.cli import helm_check
from services.common.auth.modes import AuthMode
from services.common.auth.tokens import add_key, load_key_ring
from services.common.settings import Settings

CHART = helm_check.CHART
COMPONENTS = ("ingest", "storage", "backtest", "alerts", "graph")
GRPC_PORTS = {"storage": 7101, "ingest": 7102, "graph": 7103, "backtest": 7104, "alerts": 7105}
VALUE_SETS = {path.stem.removeprefix("values-"): path for path in helm_check.value_sets()}


@pytest.fixture(scope="module")
def helm() -> Path:
    try:
        return helm_check.helm_binary()
    except helm_check.HelmUnavailable as error:
        if os.environ.get("CI"):
            pytest.fail(f"CI must check the chart: {error}")
        pytest.skip(str(error))


Manifests = list[dict[str, Any]]


def _render(helm: Path, value_set: str, *extra: str) -> Manifests:
    text = helm_check.render(helm, VALUE_SETS[value_set], *extra)
    return [doc for doc in yaml.safe_load_all(text) if doc]


def _one(manifests: Manifests, kind: str, name_end: str) -> dict[str, Any]:
    (found,) = [
        m for m in manifests if m["kind"] == kind and m["metadata"]["name"].endswith(name_end)
    ]
    return found


def _workloads(manifests: Manifests) -> dict[str, dict[str, Any]]:
    return {
        m["metadata"]["labels"]["app.kubernetes.io/component"]: m
        for m in manifests
        if m["kind"] in ("Deployment", "StatefulSet")
        and m["metadata"]["labels"]["app.kubernetes.io/component"] in COMPONENTS
    }


def test_the_ci_value_sets_are_there() -> None:
    assert {"minimal", "external-db", "ha", "trial"} <= set(VALUE_SETS)


@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_lint_strict_and_kubernetes_schemas(helm: Path, value_set: str) -> None:
    linted = helm_check.lint(helm, VALUE_SETS[value_set])
    assert linted.returncode == 0, linted.stdout + linted.stderr
    manifests = helm_check.render(helm, VALUE_SETS[value_set])
    for version in helm_check.KUBERNETES_VERSIONS:
        checked = helm_check.validate(manifests, version)
        assert checked.returncode == 0, checked.stdout + checked.stderr


def test_schema_validation_can_fail(helm: Path) -> None:
    manifests = helm_check.render(helm, VALUE_SETS["minimal"])
    broken = manifests.replace("automountServiceAccountToken: false", "automountServiceToken: no")
    assert helm_check.validate(broken, None).returncode != 0


@pytest.mark.parametrize(
    ("setting", "complaint"),
    [
        ("storage.replicas=two", "storage.replicas"),
        ("config.QUANTFLOW_SYMBOL=BTCUSDT", "QUANTFLOW_SYMBOL"),
        ("config.QUANTFLOW_DATABASE_URL=postgresql://x", "QUANTFLOW_DATABASE_URL"),
        ("ingest.shards=0", "ingest.shards"),
        ("nats.url=http://nats:4222", "nats.url"),
        ("image.pullPolicy=Sometimes", "image.pullPolicy"),
    ],
)
def test_a_wrong_value_fails_at_install(helm: Path, setting: str, complaint: str) -> None:
    with pytest.raises(subprocess.CalledProcessError) as failed:
        helm_check.render(helm, VALUE_SETS["minimal"], "--set", setting)
    assert complaint in failed.value.stderr


def test_the_database_secret_must_be_named(helm: Path) -> None:
    with pytest.raises(subprocess.CalledProcessError) as failed:
        helm_check.render(helm, VALUE_SETS["minimal"], "--set", "secrets.existingSecret=")
    assert "secrets.existingSecret" in failed.value.stderr
    assert "QUANTFLOW_SERVICE_TOKEN" in failed.value.stderr


@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_every_service_runs_restricted_with_probes(helm: Path, value_set: str) -> None:
    workloads = _workloads(_render(helm, value_set))
    assert set(workloads) == set(COMPONENTS)
    for component, workload in workloads.items():
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
        assert pod["terminationGracePeriodSeconds"] >= 30
        assert pod["automountServiceAccountToken"] is False
        (container,) = pod["containers"]
        assert container["args"] == [component]  # after the image's `quantflow serve`
        context = container["securityContext"]
        assert context["readOnlyRootFilesystem"] is True
        assert context["allowPrivilegeEscalation"] is False
        assert context["capabilities"]["drop"] == ["ALL"]
        assert {"cpu", "memory"} <= set(container["resources"]["requests"])
        assert {"cpu", "memory"} <= set(container["resources"]["limits"])
        assert container["livenessProbe"]["grpc"]["port"] == GRPC_PORTS[component]
        if component == "graph":
            assert container["readinessProbe"]["httpGet"]["path"] == "/healthz"
            assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
        else:
            assert container["readinessProbe"]["grpc"]["port"] == GRPC_PORTS[component]
            assert container["startupProbe"]["grpc"]["port"] == GRPC_PORTS[component]


def _config(manifests: Manifests) -> dict[str, str]:
    data: dict[str, str] = _one(manifests, "ConfigMap", "-config")["data"]
    return data


@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_the_configmap_is_settings_the_code_accepts(
    helm: Path, value_set: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in list(os.environ):
        if key.upper().startswith("QUANTFLOW_"):
            monkeypatch.delenv(key)
    config = _config(_render(helm, value_set))
    for key, value in config.items():
        monkeypatch.setenv(key, value)
    settings = Settings()  # unknown variables and bad values raise
    assert settings.nats_url and settings.grpc_host == "0.0.0.0"
    assert settings.storage_target.endswith("-storage:7101")


@pytest.mark.parametrize("value_set", ["minimal", "ha"])
def test_ingest_shards_cover_every_symbol_once(helm: Path, value_set: str) -> None:
    manifests = _render(helm, value_set)
    ingest = _workloads(manifests)["ingest"]
    assert ingest["kind"] == "StatefulSet"
    shards = ingest["spec"]["replicas"]
    env = {e["name"]: e for e in ingest["spec"]["template"]["spec"]["containers"][0]["env"]}
    index_env = env["QUANTFLOW_SHARD_INDEX"]
    assert index_env["valueFrom"]["fieldRef"]["fieldPath"] == (
        "metadata.labels['apps.kubernetes.io/pod-index']"
    )
    config = _config(manifests)
    assert int(config["QUANTFLOW_SHARD_COUNT"]) == shards
    shares = [
        Settings(
            symbols=tuple(config["QUANTFLOW_SYMBOLS"].split(",")),
            shard_index=index,
            shard_count=shards,
        ).shard_symbols()
        for index in range(shards)
    ]
    taken = [symbol for share in shares for symbol in share]
    assert sorted(taken) == sorted(config["QUANTFLOW_SYMBOLS"].split(","))


def test_values_schema_knows_exactly_the_settings(helm: Path) -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    configurable = set(schema["properties"]["config"]["properties"])
    managed = set(_config(_render(helm, "minimal"))) - configurable
    fields = {f"QUANTFLOW_{name.upper()}": info for name, info in Settings.model_fields.items()}
    secrets = {k for k, info in fields.items() if SecretStr in _types(info.annotation)}
    secrets.add("QUANTFLOW_SMTP_USERNAME")
    per_pod = {"QUANTFLOW_SHARD_INDEX", "QUANTFLOW_SECRETS_DIR", "QUANTFLOW_AUTH_KEYS_DIR"}
    listen = {k for k in fields if k.endswith(("_GRPC_PORT", "_METRICS_PORT"))}
    listen.add("QUANTFLOW_GRAPH_PORT")
    assert configurable <= set(fields)
    assert not configurable & secrets, "secrets never go in values.yaml"
    # A setting added to the code and forgotten here fails this test.
    assert set(fields) == configurable | managed | secrets | per_pod | listen


def _types(annotation: Any) -> set[Any]:
    return {annotation, *getattr(annotation, "__args__", ())}


# The keys of the Secret each service reads (as files); a required one missing keeps the pod
# from starting. Every service checks and sends the service token; every one but ingest
# reaches PostgreSQL (graph: the users of auth).
REQUIRED_SECRETS = {
    "ingest": {"QUANTFLOW_SERVICE_TOKEN"},
    **{
        c: {"QUANTFLOW_SERVICE_TOKEN", "QUANTFLOW_DATABASE_URL"}
        for c in ("storage", "backtest", "alerts", "graph")
    },
}
KEYS_DIR = "/var/run/secrets/quantflow-jwt-keys"


def _secret_sources(pod: dict[str, Any]) -> list[dict[str, Any]]:
    (volume,) = [v for v in pod["volumes"] if v["name"] == "secrets"]
    (mount,) = [m for m in pod["containers"][0]["volumeMounts"] if m["name"] == "secrets"]
    env = {e["name"]: e for e in pod["containers"][0]["env"]}
    assert env["QUANTFLOW_SECRETS_DIR"]["value"] == mount["mountPath"]
    assert mount["readOnly"] is True
    return [source["secret"] for source in volume["projected"]["sources"]]


def _projected(sources: list[dict[str, Any]], *, optional: bool) -> set[str]:
    keys = set()
    for source in sources:
        if source.get("optional", False) is optional:
            assert all(item["key"] == item["path"] for item in source["items"])
            keys |= {item["key"] for item in source["items"]}
    return keys


@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_every_service_gets_the_secrets_it_reads_as_files(helm: Path, value_set: str) -> None:
    manifests = _render(helm, value_set)
    name = {"trial": "quantflow-secrets"}.get(value_set, None)
    for component, workload in _workloads(manifests).items():
        sources = _secret_sources(workload["spec"]["template"]["spec"])
        assert _projected(sources, optional=False) == REQUIRED_SECRETS[component], component
        optional = _projected(sources, optional=True)
        assert optional == (
            {"QUANTFLOW_SMTP_USERNAME", "QUANTFLOW_SMTP_PASSWORD"}
            if component == "alerts"
            else set()
        )
        (secret_name,) = {source["name"] for source in sources}
        assert secret_name == (
            name or yaml.safe_load(VALUE_SETS[value_set].read_text())["secrets"]["existingSecret"]
        )


def test_every_secret_setting_reaches_a_service(helm: Path) -> None:
    # A SecretStr setting added to the code and not projected by the chart fails here.
    secrets = {
        f"QUANTFLOW_{name.upper()}"
        for name, info in Settings.model_fields.items()
        if SecretStr in _types(info.annotation)
    }
    projected: set[str] = set()
    for workload in _workloads(_render(helm, "minimal")).values():
        sources = _secret_sources(workload["spec"]["template"]["spec"])
        projected |= _projected(sources, optional=False) | _projected(sources, optional=True)
    assert secrets <= projected


@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_graph_replicas_share_the_signing_keys_of_one_secret(helm: Path, value_set: str) -> None:
    manifests = _render(helm, value_set)
    workloads = _workloads(manifests)
    pod = workloads["graph"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["QUANTFLOW_AUTH_KEYS_DIR"] == KEYS_DIR
    (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == KEYS_DIR]
    assert mount["readOnly"] is True
    (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    expected = yaml.safe_load(VALUE_SETS[value_set].read_text()).get("auth", {})
    expected_name = expected.get("keys", {}).get("existingSecret") or "quantflow-jwt-keys"
    assert volume["secret"]["secretName"] == expected_name
    for component, workload in workloads.items():  # only graph signs and verifies tokens
        if component != "graph":
            container = workload["spec"]["template"]["spec"]["containers"][0]
            assert "QUANTFLOW_AUTH_KEYS_DIR" not in {e["name"] for e in container["env"]}
            assert KEYS_DIR not in {m["mountPath"] for m in container["volumeMounts"]}


def test_graph_pod_settings_make_required_auth_work(
    helm: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The graph's settings as its pod sees them — the ConfigMap, its env, the Secret's keys
    as files — put it in required mode with the users' database, the mounted key directory
    (no key generated per replica) and the service token."""
    manifests = _render(helm, "minimal")
    pod = _workloads(manifests)["graph"]["spec"]["template"]["spec"]
    for key in list(os.environ):
        if key.upper().startswith("QUANTFLOW_"):
            monkeypatch.delenv(key)
    env = {e["name"]: e["value"] for e in pod["containers"][0]["env"]}
    assert env["QUANTFLOW_AUTH_KEYS_DIR"] == KEYS_DIR
    # What the kubelet would mount, under tmp_path: the projected keys and one signing key.
    secrets_dir, keys_dir = tmp_path / "secrets", tmp_path / "jwt-keys"
    secrets_dir.mkdir()
    for key in _projected(_secret_sources(pod), optional=False):
        value = "postgresql://u:p@db:5432/q" if key == "QUANTFLOW_DATABASE_URL" else "s3cret"
        (secrets_dir / key).write_text(value)
    kid = add_key(keys_dir, datetime.now(UTC))
    env |= {"QUANTFLOW_SECRETS_DIR": str(secrets_dir), "QUANTFLOW_AUTH_KEYS_DIR": str(keys_dir)}
    for key, value in (_config(manifests) | env).items():
        monkeypatch.setenv(key, value)
    settings = Settings()
    assert settings.service_token is not None
    assert settings.service_token.get_secret_value() == "s3cret"
    config = AuthConfig.from_settings(settings)
    assert config.mode is AuthMode.REQUIRED  # QUANTFLOW_GRAPH_HOST 0.0.0.0
    assert config.database_url == "postgresql://u:p@db:5432/q"
    assert config.create_keys is False  # replicas must share the Secret's keys
    assert config.key_ring().signing_kid == kid


def test_the_secrets_must_be_named(helm: Path) -> None:
    with pytest.raises(subprocess.CalledProcessError) as failed:
        helm_check.render(helm, VALUE_SETS["minimal"], "--set", "auth.keys.existingSecret=")
    assert "auth.keys.existingSecret" in failed.value.stderr
    assert "openssl genpkey -algorithm ed25519" in failed.value.stderr
    # Without graph, no signing keys are needed.
    manifests = helm_check.render(
        helm,
        VALUE_SETS["minimal"],
        "--set",
        "auth.keys.existingSecret=",
        "--set",
        "graph.enabled=false",
    )
    assert "quantflow-jwt-keys" not in manifests


def test_the_trial_makes_its_own_secrets(helm: Path) -> None:
    manifests = _render(helm, "trial")
    secret = _one(manifests, "Secret", "-secrets")
    assert set(secret["data"]) == {"QUANTFLOW_DATABASE_URL", "QUANTFLOW_SERVICE_TOKEN"}
    token = base64.b64decode(secret["data"]["QUANTFLOW_SERVICE_TOKEN"])
    assert len(token) >= 32
    keys = _one(manifests, "Secret", "-jwt-keys")
    (kid,) = keys["data"]
    assert kid.endswith(".pem")
    with tempfile.TemporaryDirectory() as directory:
        Path(directory, kid).write_bytes(base64.b64decode(keys["data"][kid]))
        ring = load_key_ring(Path(directory), create=False, now=datetime.now(UTC))
    assert ring.signing_kid == kid.removesuffix(".pem")  # a key the graph loads and signs with
    postgres = _one(manifests, "StatefulSet", "-postgresql")
    assert postgres["spec"]["template"]["spec"]["containers"][0]["image"].startswith(
        "timescale/timescaledb:"
    )


def test_pdbs_for_every_service_and_hpas_for_the_scalable_ones(helm: Path) -> None:
    manifests = _render(helm, "ha")
    pdbs = {
        m["metadata"]["labels"]["app.kubernetes.io/component"]
        for m in manifests
        if m["kind"] == "PodDisruptionBudget"
    }
    assert pdbs == set(COMPONENTS)
    hpas = {
        m["spec"]["scaleTargetRef"]["name"].rsplit("-", 1)[1]
        for m in manifests
        if m["kind"] == "HorizontalPodAutoscaler"
    }
    assert hpas == {"graph", "storage", "backtest"}
    workloads = _workloads(manifests)
    for component in hpas:
        assert "replicas" not in workloads[component]["spec"]  # the HPA owns it
    assert workloads["ingest"]["spec"]["replicas"] == 3


def _policy(manifests: Manifests, component: str) -> dict[str, Any]:
    (policy,) = [
        m
        for m in manifests
        if m["kind"] == "NetworkPolicy"
        and m["spec"]["podSelector"].get("matchLabels", {}).get("app.kubernetes.io/component")
        == component
    ]
    return policy


def _egress_ports(policy: dict[str, Any]) -> set[int]:
    return {p["port"] for rule in policy["spec"]["egress"] for p in rule.get("ports", [])}


def _ingress_from(policy: dict[str, Any], port: str) -> set[str]:
    return {
        peer["podSelector"]["matchLabels"]["app.kubernetes.io/component"]
        for rule in policy["spec"]["ingress"]
        if any(p["port"] == port for p in rule["ports"])
        for peer in rule.get("from", [])
        if "podSelector" in peer and "namespaceSelector" not in peer
    }


def test_network_policies_deny_by_default_and_allow_exactly(helm: Path) -> None:
    manifests = _render(helm, "minimal")
    deny = _one(manifests, "NetworkPolicy", "-default-deny")
    assert deny["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert "ingress" not in deny["spec"] and "egress" not in deny["spec"]
    assert deny["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/part-of"] == "quantflow"

    assert _ingress_from(_policy(manifests, "storage"), "grpc") == {
        "ingest",
        "backtest",
        "alerts",
        "graph",
        "test",
    }
    assert _ingress_from(_policy(manifests, "ingest"), "grpc") == {"graph", "test"}
    assert _ingress_from(_policy(manifests, "backtest"), "grpc") == {"graph", "test"}

    graph = _egress_ports(_policy(manifests, "graph"))
    # DNS, NATS, the four gRPC services, PostgreSQL (users, API keys, refresh tokens)
    assert graph == {53, 4222, 7101, 7102, 7104, 7105, 5432}
    ingest = _egress_ports(_policy(manifests, "ingest"))
    assert ingest == {53, 4222, 7101, 443, 9443}  # + storage (resume), Binance REST and WS
    for component in ("storage", "backtest", "alerts", "graph"):  # graph: the users of auth
        assert 5432 in _egress_ports(_policy(manifests, component))
    assert 5432 not in _egress_ports(_policy(manifests, "ingest"))
    assert 443 not in _egress_ports(_policy(manifests, "storage"))


def test_helm_test_checks_every_enabled_service(helm: Path) -> None:
    manifests = _render(helm, "minimal")
    (pod,) = [m for m in manifests if m["kind"] == "Pod"]
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    args = pod["spec"]["containers"][0]["args"]
    targets = json.loads(args[1])
    assert set(targets) == set(COMPONENTS)
    assert all(t.endswith(f":{GRPC_PORTS[c]}") for c, t in targets.items())
    assert args[2].endswith("-graph:8000/graphql")
    compile(args[0], "helm-test", "exec")  # the check script is valid Python


def test_monitoring_resources_when_enabled(helm: Path) -> None:
    manifests = _render(helm, "external-db")
    monitors = [m for m in manifests if m["kind"] == "ServiceMonitor"]
    assert len(monitors) == len(COMPONENTS)
    assert all(m["metadata"]["labels"]["release"] == "kube-prometheus-stack" for m in monitors)
    services = {m["metadata"]["name"]: m for m in manifests if m["kind"] == "Service"}
    for monitor in monitors:
        (endpoint,) = monitor["spec"]["endpoints"]
        service = services[monitor["metadata"]["name"]]
        assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}
    rule = _one(manifests, "PrometheusRule", "quantflow")
    assert {g["name"] for g in rule["spec"]["groups"]} >= {"quantflow.data-path", "quantflow.jobs"}
    dashboards = [
        m for m in manifests if m["kind"] == "ConfigMap" and "-dashboard-" in m["metadata"]["name"]
    ]
    assert len(dashboards) == 4
    for dashboard in dashboards:
        assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
        (content,) = dashboard["data"].values()
        assert json.loads(content)["panels"]
    assert not [
        m for m in _render(helm, "minimal") if m["kind"] in ("ServiceMonitor", "PrometheusRule")
    ]
