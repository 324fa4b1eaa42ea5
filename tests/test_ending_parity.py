"""One ending, two drivers: each outcome ended on a worker (``finish_execution``, the sync hook)
and on the triggerer (``finish_event``, the async hook), against the embedded platform over real
HTTP, gives the same return value, the same XComs, the same error text and the same log lines."""

from __future__ import annotations

import io
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent / "hooks"))
from airflow_compat import AIRFLOW_VERSION
from craft_fixtures import endpoint_only_conn, platform_conn  # noqa: F401 (fixtures)

from craft_airflow.finishing import finish_plan
from craft_airflow.hooks.craft import CraftAIHook
from craft_airflow.hooks.craft_async import CraftAIAsyncHook
from craft_airflow.names import METRICS_XCOM_KEY, RETURN_VALUE_XCOM_KEY
from craft_airflow.operators.endpoint import CraftTriggerEndpointOperator
from craft_airflow.operators.pipeline import CraftRunPipelineOperator
from craft_airflow.protocol.http import FileInput
from craft_airflow.protocol.outcomes import WaitOutcome, outcome_for_status, timeout_outcome
from craft_airflow.protocol.statuses import ExecutionStatus
from craft_airflow.triggers.execution import finish_event

# The triggerer side ends the task only from Airflow 3.3 (task-end events); below, every task
# resumes on a worker, which the worker side of each case already covers.
pytestmark = pytest.mark.skipif(
    AIRFLOW_VERSION.release[:2] < (3, 3), reason="Airflow < 3.3: tasks end on a worker"
)


class RecordingLog:
    """A task's logger that keeps its lines (level, text)."""

    def __init__(self) -> None:
        self.lines: list[tuple[int, str]] = []

    def log(self, level: int, message: str, *args: Any) -> None:
        self.lines.append((level, message % args if args else message))

    def info(self, message: str, *args: Any) -> None:
        self.log(logging.INFO, message, *args)

    def warning(self, message: str, *args: Any) -> None:
        self.log(logging.WARNING, message, *args)

    def error(self, message: str, *args: Any) -> None:
        self.log(logging.ERROR, message, *args)


@dataclass
class TaskInstance:
    dag_id: str = "parity"
    run_id: str = "manual__1"
    task_id: str = "t"
    map_index: int = -1
    xcoms: dict[str, Any] = field(default_factory=dict)

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcoms[key] = value


@dataclass
class Ended:
    """What one driver made of an outcome."""

    return_value: Any = None
    xcoms: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    skipped: str | None = None
    lines: list[tuple[int, str]] = field(default_factory=list)


def on_a_worker(task: Any, outcome: WaitOutcome) -> Ended:
    with pytest.MonkeyPatch.context() as patch:
        log = RecordingLog()
        patch.setattr(type(task), "log", property(lambda self: log))
        return end_on_a_worker(task, outcome, log)


def end_on_a_worker(task: Any, outcome: WaitOutcome, log: RecordingLog) -> Ended:
    from airflow.providers.common.compat.sdk import AirflowSkipException

    ti = TaskInstance()
    context: Any = {"ti": ti}
    task.announce_execution(context, outcome.execution_id)
    log.lines.clear()  # the announcement happened before the wait, on both paths
    ended = Ended(lines=log.lines)
    try:
        ended.return_value = task.finish_execution(context, outcome)
        ti.xcoms[RETURN_VALUE_XCOM_KEY] = ended.return_value  # what Airflow pushes
    except AirflowSkipException as skip:
        ended.skipped = str(skip)
    except Exception as err:
        ended.error = f"{type(err).__name__}: {err}"
    ended.xcoms = ti.xcoms
    return ended


async def on_the_triggerer(task: Any, outcome: WaitOutcome) -> Ended:
    from airflow.triggers.base import TaskFailedEvent, TaskSkippedEvent, TaskSuccessEvent

    context: Any = {"ti": TaskInstance()}
    plan = finish_plan(task, context, outcome.execution_id, output_base=task.output_base())
    assert plan is not None, "the task would resume on a worker"
    # Pushed before the deferral, which keeps them; the end event adds the rest.
    announced = dict(plan.xcoms)
    log = RecordingLog()
    hook = CraftAIAsyncHook()
    try:
        event = await finish_event(hook, plan, outcome, task.route, log)  # type: ignore[arg-type]
    finally:
        await hook.aclose()
    assert not set(announced) & set(event.xcoms or {}), "the end pushes an announced XCom again"
    ended = Ended(xcoms={**announced, **(event.xcoms or {})}, lines=log.lines)
    level, last = log.lines.pop()  # the end event's own line, instead of a raise or a return
    if isinstance(event, TaskSuccessEvent):
        assert last == "Task ended on the triggerer: success"
        ended.return_value = ended.xcoms.get(RETURN_VALUE_XCOM_KEY)
    elif isinstance(event, TaskSkippedEvent):
        ended.skipped = last.removeprefix("Task skipped: ")
    else:
        assert isinstance(event, TaskFailedEvent) and level == logging.ERROR
        ended.error = last.removeprefix("Task failed: ")
    return ended


def pipeline_task(tmp_path: Path) -> CraftRunPipelineOperator:
    return CraftRunPipelineOperator(
        task_id="t", pipeline_name="word-count", deferrable=True, output_storage=str(tmp_path)
    )


def word_count_execution() -> str:
    document = FileInput("d.txt", io.BytesIO(b"one two three"))
    return CraftAIHook().run_pipeline("word-count", files={"document": document})


def wait(execution_id: str) -> WaitOutcome:
    return CraftAIHook().wait_for_outcome(execution_id, timeout=60, poll_interval=0.2)


def constructed(execution_id: str, kind: str) -> WaitOutcome:
    """The outcomes the embedded platform cannot produce at will, for a finished execution (its
    logs then read the same on both paths)."""
    if kind == "timeout":
        return timeout_outcome(execution_id, 3)
    outcome = outcome_for_status(execution_id, ExecutionStatus.SKIPPED)
    assert outcome is not None
    return outcome


async def assert_parity(task: Any, outcome: WaitOutcome) -> Ended:
    worker = on_a_worker(task, outcome)
    triggerer = await on_the_triggerer(task, outcome)
    assert triggerer.return_value == worker.return_value
    assert triggerer.xcoms == worker.xcoms
    assert triggerer.error == worker.error
    assert triggerer.skipped == worker.skipped
    assert triggerer.lines == worker.lines
    return worker


@pytest.mark.usefixtures("platform_conn")
async def test_success_with_values_and_file_outputs(tmp_path):
    execution_id = word_count_execution()
    outcome = wait(execution_id)
    ended = await assert_parity(pipeline_task(tmp_path), outcome)
    assert ended.return_value["words"] == 3
    upper = Path(ended.return_value["upper"].removeprefix("file://"))
    assert upper.read_bytes() == b"ONE TWO THREE"
    assert ended.xcoms["execution_id"] == execution_id
    assert any(text.startswith("[craft] ") for _, text in ended.lines)
    assert any(text.startswith("Stored file output at ") for _, text in ended.lines)


@pytest.mark.usefixtures("platform_conn")
async def test_failure(tmp_path):
    execution_id = CraftAIHook().run_pipeline("failing", inputs={"message": "parity-kaboom"})
    outcome = wait(execution_id)
    ended = await assert_parity(pipeline_task(tmp_path), outcome)
    assert ended.error is not None and ended.error.startswith("CraftExecutionFailed: ")
    assert "parity-kaboom" in ended.error and "Last log lines:" in ended.error
    # The user's exception and frames, none of the platform's (its child process).
    message, _, tail = ended.error.partition("Last log lines:")
    assert message.strip().endswith("ended with status Failed. ValueError: parity-kaboom")
    assert 'main.py", line 6, in failing' in tail
    assert tail.rstrip().endswith("ValueError: parity-kaboom")
    assert "child.py" not in ended.error and "craft_local" not in ended.error
    assert ended.return_value is None and "return_value" not in ended.xcoms


@pytest.mark.parametrize("kind", ["skip", "timeout"])
@pytest.mark.usefixtures("platform_conn")
async def test_skip_and_timeout(kind, tmp_path):
    execution_id = word_count_execution()
    wait(execution_id)
    ended = await assert_parity(pipeline_task(tmp_path), constructed(execution_id, kind))
    if kind == "skip":
        assert ended.skipped == f"Execution {execution_id} was skipped by the platform."
    else:
        assert ended.error is not None and ended.error.startswith("CraftWaitTimeout: ")
    assert any(text.startswith("Logs of Craft AI execution") for _, text in ended.lines)


@pytest.mark.usefixtures("endpoint_only_conn")
async def test_success_on_the_endpoint_route(tmp_path):
    document = FileInput("d.txt", io.BytesIO(b"a b"))
    hook = CraftAIHook()
    execution_id = hook.trigger_endpoint("word-count-endpoint", files={"document": document})
    outcome = hook.wait_for_endpoint_outcome(
        "word-count-endpoint", execution_id, timeout=60, poll_interval=0.2
    )
    task = CraftTriggerEndpointOperator(
        task_id="t",
        endpoint_name="word-count-endpoint",
        deferrable=True,
        output_storage=str(tmp_path),
    )
    ended = await assert_parity(task, outcome)
    assert ended.return_value["words"] == 2
    assert "Execution logs need the SDK token; not copied." in [t for _, t in ended.lines]


@pytest.mark.usefixtures("platform_conn")
async def test_success_pushes_the_execution_metrics(tmp_path):
    execution_id = CraftAIHook().run_pipeline("train-model", inputs={"epochs": 2})
    task = CraftRunPipelineOperator(
        task_id="t", pipeline_name="train-model", deferrable=True, output_storage=str(tmp_path)
    )
    ended = await assert_parity(task, wait(execution_id))
    metrics = ended.xcoms[METRICS_XCOM_KEY]
    assert set(metrics) == {"accuracy", "loss"} and len(metrics["loss"]) == 2
    assert 0 < metrics["accuracy"] < 1
    assert (logging.INFO, f"Metrics of Craft AI execution {execution_id}: ") in [
        (level, text.split("accuracy=")[0]) for level, text in ended.lines
    ]


#: Records an accuracy, then fails: a failed execution's metrics (created through the API).
METRICS_THEN_FAIL = "metrics-then-fail"
METRICS_THEN_FAIL_CODE = """
from craft_ai_sdk import CraftAiSdk


def main():
    CraftAiSdk().record_metric_value("accuracy", 0.25)
    raise ValueError("diverged after the first epoch")
"""


@pytest.fixture(scope="module")
def metrics_then_fail(craft_platform: Any) -> str:
    from platform_kit import Api, create_pipeline

    api = Api(craft_platform.url, craft_platform.sdk_token)
    try:
        created = create_pipeline(api, METRICS_THEN_FAIL, METRICS_THEN_FAIL_CODE)
        assert created.status_code == 200, created.text
    finally:
        api.http.close()
    return METRICS_THEN_FAIL


@pytest.mark.usefixtures("platform_conn")
async def test_a_failure_pushes_the_metrics_recorded_before_it(tmp_path, metrics_then_fail):
    execution_id = CraftAIHook().run_pipeline(metrics_then_fail)
    task = CraftRunPipelineOperator(
        task_id="t", pipeline_name=metrics_then_fail, deferrable=True, output_storage=str(tmp_path)
    )
    ended = await assert_parity(task, wait(execution_id))
    assert ended.error is not None and "diverged after the first epoch" in ended.error
    assert ended.xcoms[METRICS_XCOM_KEY] == {"accuracy": 0.25}
    assert f"Metrics of Craft AI execution {execution_id}: accuracy=0.25" in [
        text for _, text in ended.lines
    ]
    # The worker's OpenLineage FAIL event carries them too (the listener asks the task).
    facet = task.get_openlineage_facets_on_failure(None).run_facets["craftAiExecution"]
    assert facet.metrics == {"accuracy": 0.25}
