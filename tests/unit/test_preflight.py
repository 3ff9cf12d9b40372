"""Unit tests for services/cli/preflight.py: what `up` refuses before it starts anything."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.cli.preflight import chosen_ports, live_symbols_problem, preflight
from services.common.embedded import free_port
from services.common.settings import Settings, env_name


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.upper().startswith("QUANTFLOW_"):
            monkeypatch.delenv(key)


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port something listens on for the test's duration."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


NAMES = {field: env_name(field) for field in Settings.model_fields}


def _settings(tmp_path: Path, **values: object) -> Settings:
    return Settings(
        data_dir=tmp_path / "qf",
        graph_port=free_port(),
        **values,  # type: ignore[arg-type]
    )


def test_preflight_with_usable_settings_finds_nothing(tmp_path: Path) -> None:
    assert preflight(_settings(tmp_path), NAMES) is None


def test_missing_replay_file_is_named_with_the_flag_it_came_from(tmp_path: Path) -> None:
    settings = _settings(tmp_path, source=f"replay:{tmp_path / 'nope.jsonl'}")
    problem = preflight(settings, {**NAMES, "source": "--source"})
    assert problem == f"replay file {tmp_path / 'nope.jsonl'} does not exist; check --source"


def test_replay_path_that_is_a_directory_is_refused(tmp_path: Path) -> None:
    problem = preflight(_settings(tmp_path, source=f"replay:{tmp_path}"), NAMES)
    assert problem == f"replay file {tmp_path} is not a file; check QUANTFLOW_SOURCE"


def test_replay_file_in_no_known_layout_is_refused_before_anything_starts(tmp_path: Path) -> None:
    capture = tmp_path / "capture.txt"
    capture.write_text('12:00:01 {"e": "trade"}\n')
    problem = preflight(_settings(tmp_path, source=f"replay:{capture}"), NAMES)
    assert problem is not None
    assert problem.startswith(f"recording {capture}: line 1 ")
    assert "is in no known layout" in problem
    assert problem.endswith("; check QUANTFLOW_SOURCE")
    assert "\n" not in problem


def test_data_dir_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "qf").write_text("")
    problem = preflight(_settings(tmp_path), {**NAMES, "data_dir": "--data-dir"})
    assert problem == f"data directory {tmp_path / 'qf'} is a file; choose another --data-dir"


def test_data_dir_below_a_file_is_not_writable(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    settings = Settings(data_dir=tmp_path / "file" / "qf", graph_port=free_port())
    problem = preflight(settings, NAMES)
    assert problem is not None
    assert problem.startswith(f"data directory {tmp_path / 'file' / 'qf'} is not writable (")
    assert problem.endswith("; choose another QUANTFLOW_DATA_DIR")


def test_graph_port_in_use_names_the_variable(tmp_path: Path, taken_port: int) -> None:
    settings = Settings(data_dir=tmp_path, graph_port=taken_port)
    assert preflight(settings, NAMES) == (
        f"port {taken_port} (graph, on 127.0.0.1) is already in use; "
        "set QUANTFLOW_GRAPH_PORT to a free port"
    )


def test_set_component_port_in_use_names_the_variable(tmp_path: Path, taken_port: int) -> None:
    settings = _settings(tmp_path, storage_grpc_port=taken_port)
    assert preflight(settings, NAMES) == (
        f"port {taken_port} (storage gRPC, on 127.0.0.1) is already in use; "
        "set QUANTFLOW_STORAGE_GRPC_PORT to a free port"
    )


def test_chosen_ports_are_the_set_ones_and_zero_means_unset(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("QUANTFLOW_INGEST_METRICS_PORT", "9555")
    monkeypatch.setenv("QUANTFLOW_STORAGE_METRICS_PORT", "0")
    assert chosen_ports(Settings(graph_grpc_port=7555)) == {
        "graph_grpc_port": 7555,
        "ingest_metrics_port": 9555,
    }


def test_live_symbols_check_without_exchange_info_warns_and_lets_up_go_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = _settings(tmp_path, binance_rest_url=f"http://127.0.0.1:{free_port()}")
    assert live_symbols_problem(settings, {**NAMES, "symbols": "--symbols"}) is None
    (warning,) = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warning.startswith("could not check --symbols (BTCUSDT,ETHUSDT) against Binance")


def test_live_symbols_check_asks_nothing_of_a_replay(tmp_path: Path) -> None:
    # An unreachable REST URL that would warn if asked.
    settings = _settings(
        tmp_path, source="demo", binance_rest_url=f"http://127.0.0.1:{free_port()}"
    )
    assert live_symbols_problem(settings, NAMES) is None
