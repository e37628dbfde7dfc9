"""Each benchmark runs in its quick mode and prints its JSON line.

Only to keep the scripts working: nothing here looks at a timing. The scripts
use the session's PostgreSQL server (a fresh database each) and Temporal dev
server instead of starting their own.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from scheduler.devstack import TemporalDevServer

ROOT = Path(__file__).resolve().parent.parent

EXPECTED = {
    "ingress": {"levels", "peak_ratio", "paced", "targets"},
    "e2e": {"scheduler", "raw", "ratio", "targets"},
    "routing": {"sizes", "targets"},
    "cron": {"deploy", "lag", "targets"},
    "memory": {"rss_mb", "together_mb", "targets"},
}


@pytest.mark.timeout(240)
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_benchmark_quick_mode_prints_its_figures(
    name: str, database_url: str, temporal_server: TemporalDevServer
) -> None:
    completed = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / f"{name}.py"),
            "--quick",
            "--database-url",
            database_url,
            "--temporal-address",
            temporal_server.address,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=230,
    )
    assert completed.returncode == 0, (
        completed.stdout[-3000:] + completed.stderr[-3000:]
    )
    lines = completed.stdout.strip().splitlines()
    assert lines, completed.stderr[-3000:]
    result = json.loads(lines[-1])
    assert result["bench"] == name
    assert result["quick"] is True
    assert EXPECTED[name] <= result.keys(), sorted(result)
    assert "machine" in result
    assert all(
        isinstance(v, bool) for k, v in result["targets"].items() if k != "largest"
    )
