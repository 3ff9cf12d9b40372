"""What ``quantflow up`` checks before it starts anything.

A taken port, a missing replay file or an unusable data directory would otherwise surface
after PostgreSQL, NATS and some components have started, as a traceback from deep inside one
of them. Each check returns one line naming the cause and the flag or variable to change.
"""

from __future__ import annotations

import asyncio
import socket
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

from services.cli.probe import unreachable_reason
from services.common.errors import InvalidArgument
from services.common.settings import Settings, mask_password
from services.ingest.recordings import detect_recording_layout
from services.ingest.rest import BinanceRest
from services.ingest.symbol_catalog import ExchangeSymbolCatalog, check_configured_symbols

# The symbol check asks Binance once: a slow or refusing exchange must not hold `up` long.
_SYMBOL_CHECK_TIMEOUT_S = 5.0

# Ports `up` honours when set (others it picks itself), with the component they belong to.
COMPONENT_PORTS = {
    "storage_grpc_port": "storage gRPC",
    "ingest_grpc_port": "ingest gRPC",
    "graph_grpc_port": "graph gRPC",
    "backtest_grpc_port": "backtest gRPC",
    "alerts_grpc_port": "alerts gRPC",
    "storage_metrics_port": "storage metrics",
    "ingest_metrics_port": "ingest metrics",
    "backtest_metrics_port": "backtest metrics",
    "alerts_metrics_port": "alerts metrics",
}


def chosen_ports(settings: Settings) -> dict[str, int]:
    """The component ports the user set (0 means "any free port", so it counts as unset)."""
    return {
        field: getattr(settings, field)
        for field in COMPONENT_PORTS
        if field in settings.model_fields_set and getattr(settings, field) != 0
    }


def port_in_use(host: str, port: int) -> bool:
    """True if a server could not listen on ``host:port`` now. SO_REUSEADDR as the servers
    use it, so a port in TIME_WAIT from a previous run counts as free."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def _replay_file_problem(settings: Settings, names: Mapping[str, str]) -> str | None:
    if not settings.source.startswith("replay:"):
        return None
    path = Path(settings.source.removeprefix("replay:")).expanduser()
    if not path.exists():
        return f"replay file {path} does not exist; check {names['source']}"
    if not path.is_file():
        return f"replay file {path} is not a file; check {names['source']}"
    try:
        detect_recording_layout(path)
    except OSError as error:
        return f"replay file {path} cannot be read ({error.strerror}); check {names['source']}"
    except ValueError as error:
        return f"{error}; check {names['source']}"
    return None


def _data_dir_problem(settings: Settings, names: Mapping[str, str]) -> str | None:
    data_dir = settings.data_dir.expanduser()
    fix = f"choose another {names['data_dir']}"
    if data_dir.exists() and not data_dir.is_dir():
        return f"data directory {data_dir} is a file; {fix}"
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=data_dir):
            pass
    except OSError as error:
        return f"data directory {data_dir} is not writable ({error.strerror}); {fix}"
    return None


def _ports(settings: Settings) -> Iterator[tuple[str, str, int, str]]:
    """(what, host, port, setting field) of every port `up` will listen on as configured."""
    yield "graph", settings.graph_host, settings.graph_port, "graph_port"
    for field, port in chosen_ports(settings).items():
        yield COMPONENT_PORTS[field], settings.grpc_host, port, field


def _port_problem(settings: Settings, names: Mapping[str, str]) -> str | None:
    for what, host, port, field in _ports(settings):
        if port != 0 and port_in_use(host, port):
            return (
                f"port {port} ({what}, on {host}) is already in use; "
                f"set {names[field]} to a free port"
            )
    return None


def _external_server_problem(settings: Settings, names: Mapping[str, str]) -> str | None:
    """A server given by URL that nothing answers at: say so now, not as a service's
    traceback after the rest has started."""
    given = (
        ("PostgreSQL", settings.database_dsn(), "database_url"),
        ("NATS", settings.nats_url, "nats_url"),
    )
    for what, url, field in given:
        if not url:
            continue  # embedded: up starts it
        reason = unreachable_reason(url)
        if reason is not None:
            return f"cannot reach {what} at {mask_password(url)}: {reason}; check {names[field]}"
    return None


def preflight(settings: Settings, names: Mapping[str, str]) -> str | None:
    """The first reason ``up`` cannot start with these settings, or None.

    ``names`` maps each settings field to what the user set it with (flag or variable).
    """
    for check in (
        _replay_file_problem,
        _data_dir_problem,
        _port_problem,
        _external_server_problem,
    ):
        problem = check(settings, names)
        if problem is not None:
            return problem
    return None


def live_symbols_problem(settings: Settings, names: Mapping[str, str]) -> str | None:
    """With the live source: the symbols Binance does not have or does not trade, named
    with the flag or variable they came from; None if all trade, or if Binance's
    exchangeInfo cannot be reached (a warning says so, and `up` goes on: offline, the
    capture's status tells the rest). Apart from :func:`preflight`, which asks no network."""
    if settings.source != "binance":
        return None

    async def check() -> None:
        rest = BinanceRest(
            settings.binance_rest_url,
            timeout_s=_SYMBOL_CHECK_TIMEOUT_S,
            max_wait_s=_SYMBOL_CHECK_TIMEOUT_S,
        )
        try:
            await check_configured_symbols(
                ExchangeSymbolCatalog(rest),
                settings.symbols,
                names["symbols"],
                timeout_s=_SYMBOL_CHECK_TIMEOUT_S,
            )
        finally:
            await rest.aclose()

    try:
        asyncio.run(check())
    except InvalidArgument as error:
        return str(error)
    return None
