"""A retry follows the execution an earlier try started (ResumableJobMixin, Airflow 3.3+),
against the embedded platform: no second execution is created."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import TaskDeferred


class StateStore(dict):
    def set(self, key: str, value: Any) -> None:  # type: ignore[override]
        self[key] = value


def context(store: StateStore) -> dict[str, Any]:
    ti = SimpleNamespace(
        dag_id="resume",
        run_id="manual__r",
        task_id="run",
        map_index=-1,
        try_number=2,
        stats_tags={},
        xcoms={},
    )
    ti.xcom_push = lambda key, value: ti.xcoms.__setitem__(key, value)
    return {"ti": ti, "task_state_store": store}


@pytest.fixture
def hook(craft_connection):
    from craft_airflow.hooks.craft import CraftAIHook

    hook = CraftAIHook()
    yield hook
    hook.close()


def executions_of(hook, pipeline: str) -> set[str]:
    return {e["execution_id"] for e in hook.list_pipeline_executions(pipeline)}


def test_retry_waits_for_the_running_execution_instead_of_starting_another(hook):
    from craft_airflow.operators.pipeline import CraftRunPipelineOperator

    earlier = hook.run_pipeline("slow", inputs={"seconds": 1})
    before = executions_of(hook, "slow")
    op = CraftRunPipelineOperator(task_id="run", pipeline_name="slow", inputs={"seconds": 1})
    ctx = context(StateStore(craft_execution_id=earlier))

    assert op.execute(ctx) == {"slept": 1}
    assert executions_of(hook, "slow") == before
    assert ctx["ti"].xcoms["execution_id"] == earlier


def test_deferrable_retry_defers_on_the_earlier_execution(hook):
    from craft_airflow.operators.pipeline import CraftRunPipelineOperator

    earlier = hook.run_pipeline("slow", inputs={"seconds": 1})
    before = executions_of(hook, "slow")
    op = CraftRunPipelineOperator(
        task_id="run", pipeline_name="slow", inputs={"seconds": 1}, deferrable=True
    )
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(context(StateStore(craft_execution_id=earlier)))
    assert deferred.value.trigger.serialize()[1]["execution_id"] == earlier
    assert executions_of(hook, "slow") == before


def test_retry_after_a_failed_execution_starts_a_new_one(hook):
    from craft_airflow.errors import CraftExecutionFailed
    from craft_airflow.operators.pipeline import CraftRunPipelineOperator

    failed = hook.run_pipeline("failing", inputs={"message": "first try"})
    assert hook.wait_for_execution(failed, timeout=60).status == "failed"
    store = StateStore(craft_execution_id=failed)
    op = CraftRunPipelineOperator(
        task_id="run", pipeline_name="failing", inputs={"message": "second try"}
    )
    with pytest.raises(CraftExecutionFailed, match="second try"):
        op.execute(context(store))
    assert store["craft_execution_id"] != failed
    assert store["craft_execution_id"] in executions_of(hook, "failing")
