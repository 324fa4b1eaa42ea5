"""``make demo``: the demo finds the example DAGs and explains itself (a full run is what
``make demo`` does; the example DAGs' runs are tested in tests/integration)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from craft_local.demo import _find_example_dags

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_finds_the_example_dags() -> None:
    assert _find_example_dags() == REPO_ROOT / "example_dags"


def test_help() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "craft_local.demo", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "--no-deferrable" in result.stdout and "--dag" in result.stdout
