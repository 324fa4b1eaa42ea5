from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent.parent / "operators"))


@pytest.fixture(autouse=True)
def _outputs_under_tmp(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """File outputs go to the default location under AIRFLOW_HOME: keep it per test."""
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path / "airflow-home"))
