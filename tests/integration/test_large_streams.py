"""Streams larger than their chunk, end to end: file inputs uploaded, file outputs downloaded on
the worker (sync hook) and on the triggerer (async hook), on both routes, data-store objects
written and read back. Each compares sizes and SHA-256 digests, so a stream cut at a chunk
boundary, or a chunk sent twice, fails.

The size is above every chunk on the way: the hooks' 1 MiB stream chunk, the 4 MiB block of the
data-store filesystem, the 8 MiB a non-seekable input is spooled in memory before going to disk.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from task_kit import ENDS_ON_TRIGGERER, defer, task_context, trigger_end

from craft_airflow.filesystem import DEFAULT_BLOCK_SIZE
from craft_airflow.hooks.craft import CHUNK_SIZE
from craft_airflow.hooks.craft_async import CHUNK_SIZE as ASYNC_CHUNK_SIZE
from craft_airflow.protocol.http import SPOOL_IN_MEMORY_BYTES

#: How long the pipeline runs before copying when the task must defer: it is still Running when
#: the task checks once (the check comes seconds after the start on a loaded machine).
STILL_RUNNING_SECONDS = 8
SIZE = max(CHUNK_SIZE, ASYNC_CHUNK_SIZE, DEFAULT_BLOCK_SIZE, SPOOL_IN_MEMORY_BYTES) + 12_345


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_digest(path: Path) -> tuple[int, str]:
    sha = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(CHUNK_SIZE):
            sha.update(block)
    return path.stat().st_size, sha.hexdigest()


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int, str]:
    """The input file (random bytes), its size and digest."""
    data = os.urandom(SIZE)
    path = tmp_path_factory.mktemp("large") / "document.bin"
    path.write_bytes(data)
    return path, len(data), digest(data)


def local(uri: str) -> Path:
    assert uri.startswith("file://"), uri
    return Path(uri.removeprefix("file://"))


def dag_of(dag_id: str, folder: Path, make_task: Callable[[], Any]) -> Any:
    """A DAG of one task, stored in the metadata DB (``dag.test()`` runs only DAGs it knows)."""
    from airflow.sdk import DAG
    from airflow_compat import load_dag_bag, sync_dags_to_db

    with DAG(dag_id, schedule=None, catchup=False) as dag:
        make_task()
    bag = load_dag_bag(folder)  # an empty folder: only this DAG
    bag.bag_dag(dag)
    sync_dags_to_db(bag)
    return dag


#: On a worker (sync hook): the worker waits, or the task defers and a worker resumes it.
#: ``dag.test()`` runs the trigger inline and then resumes the task on the worker even when the
#: trigger ended it, so the triggerer's end (async hook) is run through the trigger itself below.
ENDINGS = [
    pytest.param(False, False, id="worker-waits"),
    pytest.param(True, False, id="deferred-worker-finishes"),
]


@pytest.mark.parametrize(("deferrable", "finish_on_triggerer"), ENDINGS)
def test_file_input_and_output_larger_than_a_chunk(
    airflow_db: Any,
    copy_pipeline: Any,
    run_any_dag: Callable[..., Any],
    trigger_runs: list[str],
    document: tuple[Path, int, str],
    tmp_path: Path,
    deferrable: bool,
    finish_on_triggerer: bool,
) -> None:
    from airflow.sdk import ObjectStoragePath

    from craft_airflow.operators.pipeline import CraftRunPipelineOperator

    path, size, sha = document
    dag = dag_of(
        f"large_run_{deferrable}_{finish_on_triggerer}",
        tmp_path,
        lambda: CraftRunPipelineOperator(
            task_id="copy",
            pipeline_name=copy_pipeline.name,
            inputs={
                "document": ObjectStoragePath(f"file://{path}"),
                "seconds": STILL_RUNNING_SECONDS if deferrable else 0,
            },
            output_storage=f"file://{tmp_path}/out",
            finish_on_triggerer=finish_on_triggerer,
            poll_interval=0.5,
        ),
    )
    run = run_any_dag(dag, deferrable=deferrable)
    assert run.state == "success", run.task_states
    assert len(trigger_runs) == int(deferrable)  # it did defer: the path named is the one run
    assert file_digest(local(run.xcom("copy")["copy"])) == (size, sha)


def endpoint_connection(monkeypatch: pytest.MonkeyPatch, platform: Any, copy: Any) -> str:
    """A connection with the endpoint token only (the endpoint-token route); its id."""
    conn = {
        "conn_type": "craftai",
        "host": platform.url,
        "extra": {"endpoint_tokens": {copy.endpoint: copy.endpoint_token}},
    }
    monkeypatch.setenv("AIRFLOW_CONN_CRAFT_ENDPOINT_ONLY", json.dumps(conn))
    return "craft_endpoint_only"


def test_endpoint_token_route_file_output_larger_than_a_chunk_on_a_worker(
    airflow_db: Any,
    craft_platform: Any,
    copy_pipeline: Any,
    monkeypatch: pytest.MonkeyPatch,
    run_any_dag: Callable[..., Any],
    trigger_runs: list[str],
    document: tuple[Path, int, str],
    tmp_path: Path,
) -> None:
    """The endpoint-token route: the file from ``/endpoints/...?token=``."""
    from airflow.sdk import ObjectStoragePath

    from craft_airflow.operators.endpoint import CraftTriggerEndpointOperator

    conn_id = endpoint_connection(monkeypatch, craft_platform, copy_pipeline)
    path, size, sha = document
    dag = dag_of(
        "large_endpoint",
        tmp_path,
        lambda: CraftTriggerEndpointOperator(
            task_id="copy",
            craft_conn_id=conn_id,
            endpoint_name=copy_pipeline.endpoint,
            inputs={
                "document": ObjectStoragePath(f"file://{path}"),
                "seconds": STILL_RUNNING_SECONDS,
            },
            output_storage=f"file://{tmp_path}/out",
            finish_on_triggerer=False,
            poll_interval=0.5,
        ),
    )
    run = run_any_dag(dag, deferrable=True)
    assert run.state == "success", run.task_states
    assert len(trigger_runs) == 1
    assert file_digest(local(run.xcom("copy")["copy"])) == (size, sha)


@pytest.mark.skipif(not ENDS_ON_TRIGGERER, reason="Airflow < 3.3: tasks end on a worker")
@pytest.mark.parametrize("route", ["sdk", "endpoint"])
def test_the_trigger_ends_the_task_with_a_file_larger_than_a_chunk(
    craft_platform: Any,
    copy_pipeline: Any,
    monkeypatch: pytest.MonkeyPatch,
    document: tuple[Path, int, str],
    tmp_path: Path,
    route: str,
) -> None:
    from airflow.sdk import ObjectStoragePath
    from airflow.triggers.base import TaskSuccessEvent

    from craft_airflow.operators.endpoint import CraftTriggerEndpointOperator
    from craft_airflow.operators.pipeline import CraftRunPipelineOperator

    path, size, sha = document
    common: dict[str, Any] = {
        "task_id": "t",
        "inputs": {
            "document": ObjectStoragePath(f"file://{path}"),
            "seconds": STILL_RUNNING_SECONDS,
        },
        "output_storage": f"file://{tmp_path}/out",
        "deferrable": True,
        "finish_on_triggerer": True,
        "poll_interval": 0.5,
    }
    if route == "sdk":
        task: Any = CraftRunPipelineOperator(pipeline_name=copy_pipeline.name, **common)
    else:
        conn_id = endpoint_connection(monkeypatch, craft_platform, copy_pipeline)
        task = CraftTriggerEndpointOperator(
            endpoint_name=copy_pipeline.endpoint, craft_conn_id=conn_id, **common
        )
    event = trigger_end(defer(task, task_context()).trigger)
    assert isinstance(event, TaskSuccessEvent), event
    assert file_digest(local(event.xcoms["return_value"]["copy"])) == (size, sha)


class OneWay(io.RawIOBase):
    """A non-seekable stream (a pipe's shape): the upload must spool it, not rewind it."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        chunk = self._data.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


@pytest.mark.parametrize("seekable", [True, False], ids=["seekable", "one-way"])
def test_data_store_write_and_read_larger_than_a_chunk(
    craft_connection: Any, craft_platform: Any, seekable: bool
) -> None:
    from craft_airflow.hooks.datastore import CraftDataStoreHook

    data = os.urandom(SIZE)
    key = f"tests/large/{'seekable' if seekable else 'one-way'}.bin"
    hook = CraftDataStoreHook()
    try:
        hook.upload(key, io.BytesIO(data) if seekable else io.BufferedReader(OneWay(data)))
        # What the platform stored, byte for byte.
        stored = Path(craft_platform.data_dir) / "datastore" / key
        assert file_digest(stored) == (SIZE, digest(data))
        assert hook.object_info(key).size == SIZE  # type: ignore[union-attr]
        # A streamed download.
        sink = io.BytesIO()
        assert hook.download(key, sink) == SIZE
        assert digest(sink.getvalue()) == digest(data)
        # A range across a chunk boundary, and one to the end.
        start = CHUNK_SIZE - 100
        assert (
            hook.read_range(key, start, start + CHUNK_SIZE + 200)
            == data[start : start + CHUNK_SIZE + 200]
        )
        assert hook.read_range(key, SIZE - 7, SIZE) == data[-7:]
    finally:
        hook.delete(key)
        hook.close()


def test_data_store_path_reads_and_writes_larger_than_a_block(craft_connection: Any) -> None:
    """Through ``ObjectStoragePath`` (the filesystem's buffered blocks), as a task would."""
    from airflow.sdk import ObjectStoragePath
    from airflow.sdk.io.store import _STORE_CACHE

    _STORE_CACHE.clear()
    data = os.urandom(SIZE)
    path = ObjectStoragePath("craft://craft_ai_default@/tests/large/through-path.bin")
    try:
        with path.open("wb") as f:
            for start in range(0, SIZE, 3 * 1024 * 1024 + 1):  # writes straddle every block
                f.write(data[start : start + 3 * 1024 * 1024 + 1])
        assert path.stat()["size"] == SIZE
        sha = hashlib.sha256()
        read = 0
        with path.open("rb") as f:
            while block := f.read(CHUNK_SIZE + 3):
                sha.update(block)
                read += len(block)
        assert (read, sha.hexdigest()) == (SIZE, digest(data))
    finally:
        path.unlink(missing_ok=True)
        _STORE_CACHE.clear()
