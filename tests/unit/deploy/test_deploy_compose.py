"""compose.yaml, checked without a Docker engine: against the Compose Specification's JSON
schema (the copy check-jsonschema ships, so no network), then for what QuantFlow needs —
NATS with JetStream, PostgreSQL from the TimescaleDB image, every service from the
Dockerfile running `quantflow serve <service>` against them, and only real settings."""

from __future__ import annotations

import copy
import json
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from services.common.settings import Settings, unknown_variable

ROOT = Path(__file__).resolve().parents[3]
SERVICES = ("ingest", "storage", "backtest", "alerts", "graph")


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
    return loaded


def _problems(document: dict[str, Any]) -> list[str]:
    vendored = resources.files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
    schema = json.loads(vendored.read_text())
    validator_class = jsonschema.validators.validator_for(schema)
    validator = validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]


def test_compose_file_matches_the_compose_specification() -> None:
    assert _problems(_compose()) == []


@pytest.mark.parametrize(
    "break_it",
    [
        lambda d: d["services"]["storage"].update(comand=["storage"]),
        lambda d: d["services"]["nats"].update(ports="4222"),
        lambda d: d.update(service={}),
    ],
)
def test_the_schema_check_catches_a_broken_file(break_it: Any) -> None:
    broken = copy.deepcopy(_compose())
    break_it(broken)
    assert _problems(broken)


def test_nats_runs_jetstream_and_postgres_is_timescaledb() -> None:
    services = _compose()["services"]
    assert services["nats"]["image"].startswith("nats:")
    assert "-js" in services["nats"]["command"]
    assert services["postgres"]["image"].startswith("timescale/timescaledb:")
    assert "healthcheck" in services["nats"] and "healthcheck" in services["postgres"]


@pytest.mark.parametrize("name", SERVICES)
def test_each_service_runs_quantflow_serve_from_the_dockerfile(name: str) -> None:
    service = _compose()["services"][name]
    assert service["build"] == "."
    assert service["command"] == [name]  # after the image's ENTRYPOINT: quantflow serve
    depends = service["depends_on"]
    assert depends["nats"]["condition"] == depends["postgres"]["condition"] == "service_healthy"
    environment = service["environment"]
    assert environment["QUANTFLOW_NATS_URL"] == "nats://nats:4222"
    assert environment["QUANTFLOW_DATABASE_URL"].startswith("postgresql://")
    assert "@postgres:5432/" in environment["QUANTFLOW_DATABASE_URL"]
    for key in environment:
        assert unknown_variable(key, Settings.model_fields) is None, key
    assert service["read_only"] is True and service["cap_drop"] == ["ALL"]


def test_targets_point_at_the_services_on_their_ports() -> None:
    environment = _compose()["services"]["graph"]["environment"]
    defaults = Settings.model_fields
    for service in ("storage", "ingest", "backtest", "alerts"):
        port = defaults[f"{service}_grpc_port"].default
        assert environment[f"QUANTFLOW_{service.upper()}_TARGET"] == f"{service}:{port}"


def test_published_ports_stay_on_loopback() -> None:
    for name, service in _compose()["services"].items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), (name, port)


def test_every_service_checks_and_sends_one_service_token() -> None:
    services = _compose()["services"]
    tokens = {services[name]["environment"].get("QUANTFLOW_SERVICE_TOKEN") for name in SERVICES}
    (token,) = tokens  # the same for all, so each client's calls pass each server's check
    assert token


def test_graph_has_what_required_auth_needs() -> None:
    # Listening beyond loopback (the Dockerfile's QUANTFLOW_GRAPH_HOST=0.0.0.0), graph
    # requires auth: the users are in the database; its key is generated in its data
    # directory (no QUANTFLOW_AUTH_KEYS_DIR, which would have to hold a key already).
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "QUANTFLOW_GRAPH_HOST=0.0.0.0" in dockerfile
    environment = _compose()["services"]["graph"]["environment"]
    assert "@postgres:5432/" in environment["QUANTFLOW_DATABASE_URL"]
    assert "QUANTFLOW_AUTH_KEYS_DIR" not in environment
    assert "/tmp" in _compose()["services"]["graph"]["tmpfs"]
