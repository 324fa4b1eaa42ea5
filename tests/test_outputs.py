"""Outputs: storage locations, and what each §5.4 item becomes (reading them, and streaming
file outputs, are tests/test_ending.py and the hooks' tests)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from airflow.sdk import ObjectStoragePath

from craft_airflow.outputs import (
    default_output_base,
    execution_output_dir,
    plan_run_outputs,
    resolve_output_base,
    safe_component,
)


@pytest.mark.parametrize(
    ("raw", "safe"),
    [
        ("manual__2026-01-01T00:00:00+00:00", "manual__2026-01-01T00_00_00_00_00"),
        ("../../etc", "etc"),
        ("..", "_"),
        (".hidden", "hidden"),
        ("a/b\\c", "a_b_c"),
        ("", "_"),
        ("x" * 300, "x" * 200),
    ],
)
def test_safe_component(raw, safe):
    assert safe_component(raw) == safe
    assert "/" not in safe_component(raw)


def test_default_base_is_under_airflow_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))
    assert str(default_output_base()) == f"file://{tmp_path}/craft_outputs"


def test_operator_setting_wins_over_connection_then_default(monkeypatch, tmp_path: Path):
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))
    assert str(resolve_output_base("file:///op", "file:///conn")) == "file:///op"
    assert str(resolve_output_base(None, "file:///conn")) == "file:///conn"
    assert str(resolve_output_base("", None)) == f"file://{tmp_path}/craft_outputs"
    assert str(resolve_output_base(str(tmp_path / "plain"))) == f"file://{tmp_path}/plain"
    custom = ObjectStoragePath("file:///custom")
    assert resolve_output_base(custom, "file:///conn") is custom


def test_output_dir_is_unique_per_task_try_map_index_and_execution(tmp_path: Path):
    base = ObjectStoragePath(f"file://{tmp_path}")
    ti = SimpleNamespace(dag_id="d", run_id="manual__1:2", task_id="t", map_index=3)
    path = execution_output_dir(base, {"ti": ti}, "exec-1")  # type: ignore[arg-type]
    assert str(path) == f"file://{tmp_path}/d/manual__1_2/t/3/exec-1"
    ti.map_index = -1
    assert str(execution_output_dir(base, {"ti": ti}, "exec-1")).endswith("/d/manual__1_2/t/exec-1")  # type: ignore[arg-type]


def test_plan_run_outputs_fetches_only_run_mapped_files():
    items = [
        {"pipeline_output_name": "n", "data_type": "number", "mapping_type": "run", "value": 2},
        {"pipeline_output_name": "report", "data_type": "file", "mapping_type": "run"},
        {"pipeline_output_name": "saved", "data_type": "file", "mapping_type": "datastore"},
        {"name": "", "data_type": "string"},
    ]
    assert plan_run_outputs(items) == [
        ("n", None, 2),
        ("report", "report", None),
        ("saved", None, None),
    ]
