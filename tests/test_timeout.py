"""The suite-wide per-test timeout (pytest-timeout, set in pyproject.toml): a test that hangs
fails with its name rather than stalling the run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

HANGING_TEST = """
import threading


def test_hangs_forever():
    threading.Event().wait()  # never set: a hang
"""


def test_the_suite_has_a_per_test_timeout(request: pytest.FixtureRequest):
    # The chaos test takes about 3 minutes; a deployment test about 5 under load.
    assert float(request.config.getini("timeout")) >= 600
    assert request.config.getini("timeout_method") == "thread"


def test_a_hanging_test_fails_with_its_name(request: pytest.FixtureRequest, tmp_path: Path):
    (tmp_path / "test_hang.py").write_text(HANGING_TEST)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    # This project's timeout method, a timeout short enough for a test.
    method = request.config.getini("timeout_method")
    options = ["-v", "-p", "no:cacheprovider", "-o", "timeout=2", "-o", f"timeout_method={method}"]
    run = subprocess.run(
        [sys.executable, "-m", "pytest", *options, "test_hang.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode != 0
    assert "Timeout" in run.stdout, run.stdout
    assert "test_hang.py::test_hangs_forever" in run.stdout, run.stdout
    # The stack dump shows where it hung.
    assert "in test_hangs_forever" in run.stdout + run.stderr, run.stdout
