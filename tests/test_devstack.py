"""The README's run command: the whole stack in one process, stopped by Ctrl-C,
started again with its deployments intact."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from scheduler.devstack import free_port

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = json.loads((ROOT / "examples" / "quickstart.json").read_text())
SECRET = EXAMPLE["nodes"][0]["parameters"]["authentication"]["secret"]


class DevStack:
    def __init__(self, state_dir: Path) -> None:
        self.port, self.temporal_port, self.ui_port = (
            free_port(),
            free_port(),
            free_port(),
        )
        self.state_dir = state_dir
        self.output: list[str] = []
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> str:
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("WORKFLOW_ENGINE_URL", "DATABASE_URL", "JWT_SECRET")
        }
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "service.cli",
                "dev",
                "--port",
                str(self.port),
                "--temporal-port",
                str(self.temporal_port),
                "--ui-port",
                str(self.ui_port),
                "--state-dir",
                str(self.state_dir),
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + 90
        assert self.process.stdout is not None
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            self.output.append(line)
            found = re.search(r"dev token\s+(\S+)", line)
            if found:
                return found.group(1)
        raise AssertionError("no banner:\n" + "".join(self.output))

    def stop(self) -> int:
        assert self.process is not None and self.process.stdout is not None
        self.process.send_signal(signal.SIGINT)
        rest, _ = self.process.communicate(timeout=60)
        self.output.append(rest)
        return self.process.returncode

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def test_run_command_serves_example_and_keeps_it_across_restart(tmp_path: Path) -> None:
    stack = DevStack(tmp_path / "state")
    token = stack.start()
    banner = "".join(stack.output)
    try:
        assert f"http://127.0.0.1:{stack.port}/docs" in banner
        assert f"http://127.0.0.1:{stack.ui_port}" in banner
        auth = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=stack.url, headers=auth, timeout=60) as api:
            assert (
                api.put("/api/v1/workflows/quickstart", json=EXAMPLE).status_code == 201
            )
            deployed = api.post("/api/v1/deployment/workflows/quickstart/deploy")
            assert deployed.status_code == 200, deployed.text
            hook = api.post(
                "/webhook/quickstart/orders",
                json={"order_id": 7},
                headers={"X-Webhook-Secret": SECRET},
            )
            assert hook.status_code == 202, hook.text
            execution_id = hook.json()["execution_id"]
            for _ in range(100):
                state = api.get("/api/v1/triggers/workflows/quickstart").json()
                hook_state = next(
                    t for t in state["triggers"] if t["node_id"] == "orders_webhook"
                )
                if hook_state["firings"]["counts"].get("logged"):
                    break
                time.sleep(0.2)
            assert hook_state["firings"]["counts"] == {"logged": 1}
    finally:
        code = stack.stop()
    assert code == 0, "".join(stack.output)[-3000:]
    log = "".join(stack.output)
    logged = [
        json.loads(line)
        for line in log.splitlines()
        if line.startswith("{") and '"execution request (log mode' in line
    ]
    assert [r["execution_id"] for r in logged] == [execution_id]
    assert logged[0]["request"]["trigger"]["data"]["body"] == {"order_id": 7}
    assert logged[0]["service"] == "workflow_scheduler"
    assert logged[0]["event"] == "trigger_fired"

    again = DevStack(tmp_path / "state")
    token = again.start()
    try:
        with httpx.Client(
            base_url=again.url, headers={"Authorization": f"Bearer {token}"}, timeout=60
        ) as api:
            status = api.get("/api/v1/deployment/workflows/quickstart/status").json()
            assert status["deployment_status"] == "DEPLOYED"
            state = api.get("/api/v1/triggers/workflows/quickstart").json()
            cron_state = next(
                t for t in state["triggers"] if t["node_id"] == "every_minute"
            )
            assert cron_state["schedule"]["exists"] is True
            assert len(cron_state["schedule"]["next_fire_times"]) == 5
            hook = api.post(
                "/webhook/quickstart/orders",
                json={"order_id": 8},
                headers={"X-Webhook-Secret": SECRET},
            )
            assert hook.status_code == 202
    finally:
        assert again.stop() == 0


def test_run_command_refuses_a_busy_temporal_port(tmp_path: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "service.cli",
                "dev",
                "--port",
                str(free_port()),
                "--temporal-port",
                str(taken),
                "--ui-port",
                str(free_port()),
                "--state-dir",
                str(tmp_path / "state"),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode != 0
    assert f"port {taken} for the Temporal dev server is already in use" in (
        result.stdout + result.stderr
    )
