"""A retry against the execution an earlier try started, in each status the platform gives it:
still ``Pending`` or ``Running`` (followed, never started again), ``Succeeded`` (its outputs
collected), ``Failed`` or ``Error`` (a new execution). Each case counts the pipeline's executions
on the platform afterwards. Airflow < 3.3 (the compat stand-in) starts a new one every time.

A platform of its own, running one execution at a time (so one can stay ``Pending`` behind
another) and killing running executions at once on a graceful stop (so one can end ``Error``).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from airflow_compat import RESUMABLE
from conditions import wait_until

from craft_local.examples import EXAMPLE_PIPELINES

sys.path.insert(0, str(Path(__file__).parent))
from task_kit import StateStore, task_context

CONN_ID = "craft_single"


@pytest.fixture(scope="module")
def single(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from craft_local.server import EmbeddedPlatform

    platform = EmbeddedPlatform(
        tmp_path_factory.mktemp("single"),
        sdk_token="retry-statuses-sdk-token",
        pipelines_dir=EXAMPLE_PIPELINES,
        extra_args=["--max-concurrency", "1", "--long-poll-seconds", "1"],
        shutdown_grace_seconds=0,
    ).start()
    try:
        with pytest.MonkeyPatch.context() as patch:
            conn = {
                "conn_type": "craftai",
                "host": platform.url,
                "password": platform.sdk_token,
                "extra": {"control_url": platform.url},
            }
            patch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps(conn))
            yield platform
    finally:
        platform.stop()


@pytest.fixture
def hook(single: Any) -> Iterator[Any]:
    from craft_airflow.hooks.craft import CraftAIHook

    hook = CraftAIHook(CONN_ID)
    yield hook
    hook.close()


def count(hook: Any, pipeline: str) -> int:
    """How many executions of ``pipeline`` the platform has."""
    return len(hook.list_pipeline_executions(pipeline))


def status(hook: Any, execution_id: str) -> str:
    return str(hook.get_execution(execution_id)["status"])


def earlier_try(hook: Any, single: Any, wanted: str) -> tuple[str, str, Any]:
    """An execution in status ``wanted``, as an earlier try left it: (pipeline, id, the result
    the retry must return)."""
    if wanted == "Pending":
        hook.run_pipeline("slow", inputs={"seconds": 3})  # holds the only slot
        earlier = hook.run_pipeline("slow", inputs={"seconds": 0.2})
        assert status(hook, earlier) == "Pending"
        return "slow", earlier, {"slept": 0.2}
    if wanted == "Running":
        earlier = hook.run_pipeline("slow", inputs={"seconds": 2})
        wait_until(lambda: status(hook, earlier) == "Running", timeout=30, what="Running")
        return "slow", earlier, {"slept": 2}
    if wanted == "Succeeded":
        earlier = hook.run_pipeline("slow", inputs={"seconds": 0.1})
        assert hook.wait_for_outcome(earlier, timeout=60).status == "success"
        return "slow", earlier, {"slept": 0.1}
    if wanted == "Failed":
        earlier = hook.run_pipeline("failing", inputs={"message": "first try"})
        assert hook.wait_for_outcome(earlier, timeout=60).status == "failed"
        return "failing", earlier, None
    assert wanted == "Error"
    earlier = hook.run_pipeline("slow", inputs={"seconds": 60})
    wait_until(lambda: status(hook, earlier) == "Running", timeout=30, what="Running")
    single.restart()  # a graceful stop without grace: the running execution ends Error
    hook.close()
    assert status(hook, earlier) == "Error"
    return "slow", earlier, {"slept": 0.1}


#: Whether a retry follows the earlier execution (no new one) for each status.
FOLLOWED = {"Pending": True, "Running": True, "Succeeded": True, "Failed": False, "Error": False}


#: The Kubernetes runtime keeps a running Job across a platform restart (the platform re-attaches
#: to it), so a restart cannot make an execution end ``Error`` there.
ON_KUBERNETES = os.environ.get("CRAFT_LOCAL_RUNTIME") == "kubernetes"


@pytest.mark.parametrize(
    "wanted",
    [
        pytest.param(
            wanted,
            marks=pytest.mark.skipif(
                wanted == "Error" and ON_KUBERNETES,
                reason="a Kubernetes Job outlives a platform restart: no Error to make",
            ),
        )
        for wanted in FOLLOWED
    ],
)
def test_a_retry_against_an_earlier_execution(hook: Any, single: Any, wanted: str) -> None:
    from craft_airflow.errors import CraftExecutionFailed
    from craft_airflow.operators.pipeline import CraftRunPipelineOperator

    pipeline, earlier, result = earlier_try(hook, single, wanted)
    before = count(hook, pipeline)
    inputs = {"message": "second try"} if pipeline == "failing" else {"seconds": 0.1}
    task = CraftRunPipelineOperator(
        task_id="t", pipeline_name=pipeline, craft_conn_id=CONN_ID, inputs=inputs
    )
    store = StateStore(craft_execution_id=earlier)
    context = task_context(store, try_number=2)
    if pipeline == "failing":
        with pytest.raises(CraftExecutionFailed, match="second try"):
            task.execute(context)
    else:
        outcome = task.execute(context)
        followed = RESUMABLE and FOLLOWED[wanted]
        assert outcome == (result if followed else {"slept": 0.1})
    followed = RESUMABLE and FOLLOWED[wanted]
    assert count(hook, pipeline) == before + (0 if followed else 1)
    pushed = context["ti"].xcoms["execution_id"]
    assert (pushed == earlier) is followed
