"""Every way a task ends, failing at the end: the outputs cannot be read, the output storage
refuses the file (at once, or in the middle of the write), the download is cut in the middle.
On a worker (the task resumes with the trigger's event) and on the triggerer (the trigger ends
the task), the task fails with a message naming what failed, and no file is left behind.

The task runs through its public entry points (``execute`` until it defers, the trigger's
``run()``, the resume) against the embedded platform; a scripted proxy in front of it produces
what the platform cannot: an unreadable answer, a connection dropped in the middle of a body.
The execution has ended before the trigger runs, so the first ``outputs`` request is the wait's
and the second the read of the outputs.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "hooks"))
from scripted_server import ScriptedServer, proxy, proxy_then_cut, reply
from task_kit import ENDS_ON_TRIGGERER, defer, resume, task_context, trigger_end

CONN_ID = "craft_via_proxy"
SIZE = 3 * 1024 * 1024 + 7  # cut in the middle: past the first 1 MiB chunk
OUTPUTS = r"/executions/[^/]+/outputs$"
DOWNLOAD = r"/executions/[^/]+/outputs/copy$"

ENDINGS = [
    pytest.param("worker", id="worker"),
    pytest.param(
        "triggerer",
        id="triggerer",
        marks=pytest.mark.skipif(not ENDS_ON_TRIGGERER, reason="Airflow < 3.3: ends on a worker"),
    ),
]


@pytest.fixture
def via_proxy(
    monkeypatch: pytest.MonkeyPatch, craft_platform: Any, copy_pipeline: Any
) -> Iterator[ScriptedServer]:
    """A scripted proxy in front of the platform, and the connection ``craft_via_proxy``."""
    with ScriptedServer(upstream=craft_platform.url) as server:
        conn = {
            "conn_type": "craftai",
            "host": server.url,
            "password": craft_platform.sdk_token,
            "extra": {"control_url": server.url, "max_retries": 2, "max_retry_seconds": 5},
        }
        monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps(conn))
        yield server


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ending") / "document.bin"
    path.write_bytes(os.urandom(SIZE))
    return path


def files_under(folder: Path) -> list[Path]:
    """Every file (or link) under ``folder``: what a failed end left behind."""
    return [p for p in folder.rglob("*") if p.is_file() or p.is_symlink()]


class Ending:
    """One task deferred on an execution that has since ended; then ended either way."""

    def __init__(self, copy_pipeline: Any, document: Path, output_storage: str, where: str):
        from airflow.sdk import ObjectStoragePath

        from craft_airflow.hooks.craft import CraftAIHook
        from craft_airflow.operators.pipeline import CraftRunPipelineOperator

        self.where = where
        self.task = CraftRunPipelineOperator(
            task_id="t",
            pipeline_name=copy_pipeline.name,
            craft_conn_id=CONN_ID,
            inputs={"document": ObjectStoragePath(f"file://{document}"), "seconds": 4},
            output_storage=output_storage,
            deferrable=True,
            finish_on_triggerer=where == "triggerer",
            poll_interval=0.5,
        )
        self.context = task_context()
        self.deferred = defer(self.task, self.context)
        self.execution_id = self.context["ti"].xcoms["execution_id"]
        hook = CraftAIHook()  # straight to the platform, not through the proxy
        try:
            assert hook.wait_for_outcome(self.execution_id, timeout=120).status == "success"
        finally:
            hook.close()

    def fail(self, capsys: pytest.CaptureFixture[str]) -> str:
        """End the task, which must fail; the failure's text (type and message)."""
        from airflow.triggers.base import TaskFailedEvent

        from craft_airflow.errors import CraftError

        capsys.readouterr()
        event = trigger_end(self.deferred.trigger)
        if self.where == "triggerer":
            assert isinstance(event, TaskFailedEvent), event
            out = capsys.readouterr().out
            assert "Task failed: " in out, out
            return out[out.index("Task failed: ") :].splitlines()[0]
        with pytest.raises(CraftError) as failed:
            resume(self.task, self.context, self.deferred, event)
        return f"Task failed: {type(failed.value).__name__}: {failed.value}"

    def output_path(self, base: Path) -> Path:
        """Where the file output ``copy`` goes (the documented layout, see outputs.py)."""
        return base / "d" / "r" / "t" / self.execution_id / "copy"


@pytest.mark.parametrize("where", ENDINGS)
def test_unreadable_outputs_fail_the_task(
    via_proxy: ScriptedServer, copy_pipeline: Any, document: Path, tmp_path: Path, capsys, where
) -> None:
    ending = Ending(copy_pipeline, document, f"file://{tmp_path}/out", where)
    gateway_page = reply(200, b"<html>502 Bad Gateway</html>", {"Content-Type": "text/html"})
    via_proxy.on("GET", OUTPUTS, proxy(), *[gateway_page] * 5)
    failure = ending.fail(capsys)
    assert "CraftAPIError" in failure, failure
    assert f"execution {ending.execution_id!r}" in failure, failure
    assert files_under(tmp_path / "out") == []


@pytest.mark.parametrize("where", ENDINGS)
def test_storage_refusing_the_file_fails_the_task(
    via_proxy: ScriptedServer, copy_pipeline: Any, document: Path, tmp_path: Path, capsys, where
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the output folder should be")
    ending = Ending(copy_pipeline, document, f"file://{blocker}/out", where)
    failure = ending.fail(capsys)
    assert "Cannot store file output 'copy'" in failure, failure
    assert "NotADirectoryError" in failure, failure
    assert files_under(tmp_path) == [blocker]


@pytest.mark.parametrize("where", ENDINGS)
def test_storage_full_in_the_middle_of_the_file_fails_the_task(
    via_proxy: ScriptedServer, copy_pipeline: Any, document: Path, tmp_path: Path, capsys, where
) -> None:
    if not os.path.exists("/dev/full"):
        pytest.fail("this test needs /dev/full (a device whose writes fail with ENOSPC)")
    ending = Ending(copy_pipeline, document, f"file://{tmp_path}/out", where)
    # The output's place is a device that opens but refuses every write: a full disk.
    target = ending.output_path(tmp_path / "out")
    target.parent.mkdir(parents=True)
    target.symlink_to("/dev/full")
    failure = ending.fail(capsys)
    assert "Cannot store file output 'copy'" in failure, failure
    assert "No space left on device" in failure, failure
    assert files_under(tmp_path / "out") == []


@pytest.mark.parametrize("where", ENDINGS)
def test_a_download_cut_in_the_middle_fails_the_task_and_leaves_no_partial_file(
    via_proxy: ScriptedServer, copy_pipeline: Any, document: Path, tmp_path: Path, capsys, where
) -> None:
    ending = Ending(copy_pipeline, document, f"file://{tmp_path}/out", where)
    via_proxy.on("GET", DOWNLOAD, *[proxy_then_cut()] * 5)
    failure = ending.fail(capsys)
    assert "CraftConnectionError" in failure, failure
    assert "download output 'copy'" in failure and "broke off after" in failure, failure
    assert via_proxy.count("GET", DOWNLOAD) >= 1
    assert files_under(tmp_path / "out") == []
