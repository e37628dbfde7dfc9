"""Start the real API (uvicorn on loopback) and worker inside the test's event loop."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import uvicorn

from api.main import create_app
from scheduler.auth import issue_token
from scheduler.devstack import free_port
from scheduler.settings import Settings
from service.worker import run_worker

JWT_SECRET = "test-secret-0123456789abcdef-0123456789"


def make_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "DEV_MODE": True,
        "JWT_SECRET": JWT_SECRET,
        "TEMPORAL_TASK_QUEUE": f"tq-{uuid.uuid4()}",
        "DISPATCH_RETRY_INITIAL_SECONDS": 0.2,
        "DISPATCH_RETRY_MAX_INTERVAL_SECONDS": 1.0,
        "RELAY_POLL_SECONDS": 0.2,
        "WEBHOOK_MAX_BODY_BYTES": 64 * 1024,
        "EVENT_MAX_BYTES": 128 * 1024,
        "PORT": free_port(),
        "HOST": "127.0.0.1",
    }
    values.update(overrides)
    return Settings(**values)


class Stack:
    """A running API and worker for one Settings."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.base_url = f"http://127.0.0.1:{settings.PORT}"
        self._stop = asyncio.Event()
        self._server = uvicorn.Server(
            uvicorn.Config(
                create_app(settings),
                host="127.0.0.1",
                port=settings.PORT,
                log_config=None,
                access_log=False,
                lifespan="on",
            )
        )
        self._tasks: list[asyncio.Task[Any]] = []

    def token(
        self, user: str = "alice", roles: list[str] | None = None, **kw: Any
    ) -> str:
        return issue_token(self.settings, user, roles=roles, **kw)

    def client(
        self, user: str | None = "alice", roles: list[str] | None = None
    ) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {self.token(user, roles)}"} if user else {}
        return httpx.AsyncClient(base_url=self.base_url, headers=headers, timeout=60)

    async def start(self) -> None:
        self._server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        self._tasks.append(asyncio.create_task(run_worker(self.settings, self._stop)))
        self._tasks.append(asyncio.create_task(self._server.serve()))
        for _ in range(200):
            if self._server.started:
                return
            await asyncio.sleep(0.05)
        raise RuntimeError("the API did not start")

    async def stop(self) -> None:
        self._stop.set()
        self._server.should_exit = True
        for task in self._tasks:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 30)


@contextlib.asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[Stack]:
    stack = Stack(settings)
    await stack.start()
    try:
        yield stack
    finally:
        await stack.stop()
