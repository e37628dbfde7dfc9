"""Where the shared corpus of real payloads lives (attribution in its SOURCES.md).

Looked for in `$SHARED_CORPUS`, then `../shared/corpus` beside the repository.
Missing corpus: the tests that need it skip on a developer's machine, but fail
under CI (`CI` set), where a silent skip would hide lost coverage.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def corpus_dir() -> Path | None:
    candidates = [os.environ.get("SHARED_CORPUS"), ROOT.parent / "shared" / "corpus"]
    for candidate in candidates:
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return None


def corpus_file(relative: str) -> Path:
    """The path of a corpus file, or a skip (a failure under CI) when it is absent."""
    base = corpus_dir()
    if base is None or not (base / relative).exists():
        message = f"shared corpus file {relative} not found (set SHARED_CORPUS)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return base / relative
