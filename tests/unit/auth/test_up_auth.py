"""What `up` says and keeps about auth: the banner's mode, the run's service token."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import SecretStr

from services.cli.up import RUN_FILE, Stack, auth_banner, running_service_token
from services.common.auth.modes import AuthMode
from services.common.settings import Settings


def test_banner_names_the_mode_and_what_it_means() -> None:
    assert "local" in auth_banner(AuthMode.LOCAL) and "admin" in auth_banner(AuthMode.LOCAL)
    assert "required" in auth_banner(AuthMode.REQUIRED)
    assert "quantflow user add" in auth_banner(AuthMode.REQUIRED)


def test_stack_makes_a_token_per_run_unless_one_is_set(tmp_path: Path) -> None:
    first = Stack(Settings(data_dir=tmp_path))
    second = Stack(Settings(data_dir=tmp_path))
    assert len(first.service_token) >= 32 and first.service_token != second.service_token
    given = Stack(Settings(data_dir=tmp_path, service_token=SecretStr("from-the-env")))
    assert given.service_token == "from-the-env"


def test_stack_on_a_non_loopback_address_requires_auth(tmp_path: Path) -> None:
    assert Stack(Settings(data_dir=tmp_path)).auth_mode is AuthMode.LOCAL
    exposed = Stack(Settings(data_dir=tmp_path, graph_host="0.0.0.0", auth=AuthMode.LOCAL))
    assert exposed.auth_mode is AuthMode.REQUIRED


def test_run_file_is_private_and_gives_the_cli_the_token(tmp_path: Path) -> None:
    stack = Stack(Settings(data_dir=tmp_path))
    stack.write_run_file()
    path = tmp_path / RUN_FILE
    assert path.stat().st_mode & 0o777 == 0o600
    assert json.loads(path.read_text())["service_token"] == stack.service_token
    token = running_service_token(Settings(data_dir=tmp_path))
    assert token is not None and token.get_secret_value() == stack.service_token
    # The environment wins over the run file.
    chosen = running_service_token(Settings(data_dir=tmp_path, service_token=SecretStr("env")))
    assert chosen is not None and chosen.get_secret_value() == "env"


def test_without_run_file_or_setting_the_cli_sends_no_token(tmp_path: Path) -> None:
    assert running_service_token(Settings(data_dir=tmp_path)) is None
