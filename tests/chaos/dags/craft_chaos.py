"""The chaos DAG: many Craft AI runs through mapped tasks, waiting in the worker or deferred.

Every mapped task instance gets a unique ``index`` input; the chaos test checks each one's
outputs and that the platform holds exactly one execution per index.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import DAG

from craft_airflow.operators.endpoint import CraftTriggerEndpointOperator
from craft_airflow.operators.pipeline import CraftRunPipelineOperator

DAG_ID = "craft_chaos"
PIPELINE = "chaos-echo"
ENDPOINT = "chaos-echo-endpoint"
# Task id -> (first index, count, deferrable, operator kind).
GROUPS = {
    "run_in_worker": (0, 47, False, "pipeline"),
    "run_deferred": (47, 47, True, "pipeline"),
    "endpoint_in_worker": (94, 3, False, "endpoint"),
    "endpoint_deferred": (97, 3, True, "endpoint"),
}
#: The deferred task whose trigger the test restarts mid-wait, and how long its run holds: long
#: enough that the task's one check before deferring, slowed and retried by the injected
#: faults, still finds it running (with 3 s a clean-clone run once found it finished, so the
#: task never deferred and no trigger was restarted).
TRIGGER_RESTART = ("run_deferred", 10)
TRIGGER_RESTART_HOLD = 8.0
#: How long every other execution holds (so that some are running when the platform restarts).
HOLD = 0.1


def inputs_of(task_id: str) -> list[dict]:
    first, count, _, _ = GROUPS[task_id]
    inputs = []
    for map_index in range(count):
        hold = TRIGGER_RESTART_HOLD if (task_id, map_index) == TRIGGER_RESTART else HOLD
        inputs.append({"index": first + map_index, "hold": hold})
    return inputs


with DAG(
    dag_id=DAG_ID,
    schedule=None,
    catchup=False,
    default_args={"retries": 2, "retry_delay": timedelta(0)},
    tags=["craft-ai", "chaos"],
    doc_md=__doc__,
):
    for task_id, (_, _, deferrable, kind) in GROUPS.items():
        if kind == "pipeline":
            CraftRunPipelineOperator.partial(
                task_id=task_id, pipeline_name=PIPELINE, deferrable=deferrable, poll_interval=0.5
            ).expand(inputs=inputs_of(task_id))
        else:
            CraftTriggerEndpointOperator.partial(
                task_id=task_id, endpoint_name=ENDPOINT, deferrable=deferrable, poll_interval=0.5
            ).expand(inputs=inputs_of(task_id))
