"""Retries against the embedded platform. Airflow 3.3+ (ResumableJobMixin): a retry follows the
execution an earlier try started, no second execution is created. Below 3.3 (the compat
stand-in) every try starts its own execution and the earlier one runs on untouched."""

from __future__ import annotations

import random
import time
from types import SimpleNamespace
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import TaskDeferred
from airflow_compat import RESUMABLE


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


def assert_the_retry_started_its_own_execution(
    hook, pipeline: str, before: set[str], earlier: str, new: str
) -> None:
    """Airflow < 3.3: exactly one new execution, and the earlier one left to run (not adopted,
    not stopped: it ends on its own)."""
    assert not RESUMABLE
    assert new != earlier
    assert executions_of(hook, pipeline) == before | {new}
    assert hook.wait_for_outcome(earlier, timeout=60).status == "success"


def test_retry_waits_for_the_running_execution_instead_of_starting_another(hook):
    from craft_airflow.operators.pipeline import CraftRunPipelineOperator

    earlier = hook.run_pipeline("slow", inputs={"seconds": 1})
    before = executions_of(hook, "slow")
    op = CraftRunPipelineOperator(task_id="run", pipeline_name="slow", inputs={"seconds": 1})
    ctx = context(StateStore(craft_execution_id=earlier))

    assert op.execute(ctx) == {"slept": 1}
    if RESUMABLE:
        assert executions_of(hook, "slow") == before
        assert ctx["ti"].xcoms["execution_id"] == earlier
    else:
        new = ctx["ti"].xcoms["execution_id"]
        assert_the_retry_started_its_own_execution(hook, "slow", before, earlier, new)


def test_deferrable_retry_defers_on_the_earlier_execution(hook):
    from craft_airflow.operators.pipeline import CraftRunPipelineOperator

    earlier = hook.run_pipeline("slow", inputs={"seconds": 1})
    before = executions_of(hook, "slow")
    op = CraftRunPipelineOperator(
        task_id="run", pipeline_name="slow", inputs={"seconds": 1}, deferrable=True
    )
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(context(StateStore(craft_execution_id=earlier)))
    deferred_on = deferred.value.trigger.serialize()[1]["execution_id"]
    if RESUMABLE:
        assert deferred_on == earlier
        assert executions_of(hook, "slow") == before
    else:
        assert_the_retry_started_its_own_execution(hook, "slow", before, earlier, deferred_on)


def test_retry_after_a_failed_execution_starts_a_new_one(hook):
    from craft_airflow.errors import CraftExecutionFailed
    from craft_airflow.operators.pipeline import CraftRunPipelineOperator

    failed = hook.run_pipeline("failing", inputs={"message": "first try"})
    assert hook.wait_for_outcome(failed, timeout=60).status == "failed"
    before = executions_of(hook, "failing")
    store = StateStore(craft_execution_id=failed)
    ctx = context(store)
    op = CraftRunPipelineOperator(
        task_id="run", pipeline_name="failing", inputs={"message": "second try"}
    )
    with pytest.raises(CraftExecutionFailed, match="second try"):
        op.execute(ctx)
    new = ctx["ti"].xcoms["execution_id"]
    assert new != failed
    assert executions_of(hook, "failing") == before | {new}
    # Airflow 3.3+ keeps the new id for the next retry, and the intent recorded before creating
    # it; below 3.3 there is no store to keep them in.
    assert store["craft_execution_id"] == (new if RESUMABLE else failed)
    assert ("craft_creation_intent" in store) == RESUMABLE


# -- a retry after the earlier try died while creating (its intent recorded, no id) -------------


def unique_seconds() -> float:
    """A short sleep no other test sends: the inputs that tell this test's executions apart."""
    return round(0.2 + random.random() / 10, 9)


def intent_of(seconds: float, *, since: float, replaces: str | None = None) -> dict[str, Any]:
    from craft_airflow.journal import IntentRecord
    from craft_airflow.protocol.adoption import CreationIntent

    intent = CreationIntent("run", pipeline_name="slow", inputs={"seconds": seconds})
    return IntentRecord(since, intent, replaces).to_json()


def test_retry_follows_the_execution_a_dead_try_created(hook):
    from craft_airflow.operators.pipeline import CraftRunPipelineOperator

    seconds = unique_seconds()
    since = time.time()
    # The dead try: intent recorded, execution created, the id never recorded.
    earlier = hook.run_pipeline("slow", inputs={"seconds": seconds})
    store = StateStore(craft_creation_intent=intent_of(seconds, since=since))
    before = executions_of(hook, "slow")
    ctx = context(store)
    op = CraftRunPipelineOperator(task_id="run", pipeline_name="slow", inputs={"seconds": seconds})

    assert op.execute(ctx) == {"slept": seconds}
    if RESUMABLE:
        assert executions_of(hook, "slow") == before
        assert ctx["ti"].xcoms["execution_id"] == store["craft_execution_id"] == earlier
    else:
        new = ctx["ti"].xcoms["execution_id"]
        assert_the_retry_started_its_own_execution(hook, "slow", before, earlier, new)


def test_retry_creates_when_the_dead_try_created_nothing(hook):
    from craft_airflow.operators.pipeline import CraftRunPipelineOperator

    seconds = unique_seconds()
    store = StateStore(craft_creation_intent=intent_of(seconds, since=time.time()))
    before = executions_of(hook, "slow")
    ctx = context(store)
    op = CraftRunPipelineOperator(task_id="run", pipeline_name="slow", inputs={"seconds": seconds})

    assert op.execute(ctx) == {"slept": seconds}
    new = ctx["ti"].xcoms["execution_id"]
    assert executions_of(hook, "slow") == before | {new}
    if RESUMABLE:
        assert store["craft_execution_id"] == new
        assert store["craft_creation_intent"]["replaces"] is None  # a new intent, then the id


def test_retry_refuses_to_choose_between_several_executions_of_a_dead_try(hook):
    from craft_airflow.errors import CraftAmbiguousCreation
    from craft_airflow.operators.pipeline import CraftRunPipelineOperator

    seconds = unique_seconds()
    since = time.time()
    twins = {hook.run_pipeline("slow", inputs={"seconds": seconds}) for _ in range(2)}
    store = StateStore(craft_creation_intent=intent_of(seconds, since=since))
    before = executions_of(hook, "slow")
    op = CraftRunPipelineOperator(task_id="run", pipeline_name="slow", inputs={"seconds": seconds})
    if RESUMABLE:
        with pytest.raises(CraftAmbiguousCreation) as err:
            op.execute(context(store))
        assert set(err.value.candidates) == twins
        assert all(t in str(err.value) for t in twins)
        assert "state-store key 'craft_execution_id'" in str(err.value)  # how to choose
        assert executions_of(hook, "slow") == before
        assert "craft_execution_id" not in store
    else:
        assert op.execute(context(store)) == {"slept": seconds}


def test_an_intent_whose_id_was_recorded_is_not_searched_for(hook):
    """The earlier try recorded its intent and its execution's id, and that execution failed:
    the retry starts a new one, even with a look-alike execution created since."""
    from craft_airflow.errors import CraftExecutionFailed
    from craft_airflow.operators.pipeline import CraftRunPipelineOperator

    since = time.time()
    failed = hook.run_pipeline("failing", inputs={"message": "same"})
    assert hook.wait_for_outcome(failed, timeout=60).status == "failed"
    look_alike = hook.run_pipeline("failing", inputs={"message": "same"})
    from craft_airflow.journal import IntentRecord
    from craft_airflow.protocol.adoption import CreationIntent

    intent = CreationIntent("run", pipeline_name="failing", inputs={"message": "same"})
    store = StateStore(
        craft_execution_id=failed,
        craft_creation_intent=IntentRecord(since, intent, None).to_json(),
    )
    ctx = context(store)
    op = CraftRunPipelineOperator(
        task_id="run", pipeline_name="failing", inputs={"message": "same"}
    )
    with pytest.raises(CraftExecutionFailed):
        op.execute(ctx)
    new = ctx["ti"].xcoms["execution_id"]
    assert new not in (failed, look_alike)
