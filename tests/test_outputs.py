"""Outputs: storage locations, streamed file outputs, endpoint and run output shapes."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from airflow.sdk import ObjectStoragePath

from craft_airflow.outputs import (
    collect_endpoint_outputs,
    collect_run_outputs,
    default_output_base,
    execution_output_dir,
    resolve_output_base,
    safe_component,
    stream_to_storage,
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


def test_stream_to_storage_writes_chunks_and_returns_the_uri(tmp_path: Path):
    dest = ObjectStoragePath(f"file://{tmp_path}/a/b/out")
    chunks = [b"one ", b"two ", b"three"]

    def download(sink) -> int:
        for chunk in chunks:
            sink.write(chunk)
        return 13

    uri = stream_to_storage(dest, download)
    assert uri == f"file://{tmp_path}/a/b/out"
    assert Path(tmp_path / "a/b/out").read_bytes() == b"one two three"


def test_a_broken_download_leaves_no_partial_file(tmp_path: Path):
    dest = ObjectStoragePath(f"file://{tmp_path}/out")

    def download(sink) -> int:
        sink.write(b"half")
        raise ConnectionError("cut")

    with pytest.raises(ConnectionError):
        stream_to_storage(dest, download)
    assert not (tmp_path / "out").exists()


def test_collect_run_outputs(tmp_path: Path):
    items = [
        {"pipeline_output_name": "n", "data_type": "number", "mapping_type": "run", "value": 2},
        {"pipeline_output_name": "missing", "data_type": "string", "mapping_type": "run"},
        {"pipeline_output_name": "report", "data_type": "file", "mapping_type": "run"},
        {"pipeline_output_name": "saved", "data_type": "file", "mapping_type": "datastore"},
        {"pipeline_output_name": "dropped", "data_type": "file", "mapping_type": "is_null"},
    ]
    downloaded: list[str] = []

    def download(name, sink) -> int:
        downloaded.append(name)
        sink.write(b"report bytes")
        return 12

    result = collect_run_outputs(
        items, download=download, dest_dir=ObjectStoragePath(f"file://{tmp_path}")
    )
    assert result == {
        "n": 2,
        "missing": None,
        "report": f"file://{tmp_path}/report",
        "saved": None,
        "dropped": None,
    }
    assert downloaded == ["report"]
    assert (tmp_path / "report").read_bytes() == b"report bytes"


def test_collect_run_outputs_by_endpoint_name(tmp_path: Path):
    items = [
        {
            "pipeline_output_name": "n",
            "data_type": "number",
            "mapping_type": "endpoint",
            "mapping_value": {"endpoint_output_name": "count"},
            "value": 2,
        }
    ]
    dest = ObjectStoragePath(f"file://{tmp_path}")
    assert collect_run_outputs(items, download=None, dest_dir=dest, endpoint_names=True) == {
        "count": 2
    }  # type: ignore[arg-type]
    assert collect_run_outputs(items, download=None, dest_dir=dest) == {"n": 2}  # type: ignore[arg-type]


def test_collect_endpoint_outputs(tmp_path: Path):
    def download_url(url, sink) -> int:
        assert url == "https://env/file"
        sink.write(b"F")
        return 1

    result = collect_endpoint_outputs(
        {"a": {"value": 1}, "b": "raw", "c": {"url": "https://env/file"}, "d": {"url": None}},
        download_url=download_url,
        dest_dir=ObjectStoragePath(f"file://{tmp_path}"),
    )
    assert result == {"a": 1, "b": "raw", "c": f"file://{tmp_path}/c", "d": None}
    assert (tmp_path / "c").read_bytes() == b"F"
