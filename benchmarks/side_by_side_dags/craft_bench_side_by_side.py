"""DAGs of ``benchmarks/side_by_side.py``: one per variant, each one task running the 10-second
``slow`` pipeline on the embedded platform. Runs are triggered through the REST API (no logical
date).

Every task counts its worker starts: ``on_execute_callback`` runs each time a worker process
runs the task (the first start and every resume of a deferred task) and appends one line to the
file named by ``CRAFT_BENCH_STARTS``. Every task pushes the execution id under ``execution_id``.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import BaseHook
from bench_variants import DAG_IDS, INPUTS, PIPELINE
from fixed_interval_poll import FixedIntervalPollOperator
from worker_starts import counted_dag

from craft_airflow.operators.pipeline import CraftRunPipelineOperator


def run_with_sdk(ti: Any = None) -> dict[str, Any]:
    """What users do today: the official SDK, waiting in the worker."""
    from craft_ai_sdk import CraftAiSdk

    conn = BaseHook.get_connection("craft_ai_default")
    sdk = CraftAiSdk(
        sdk_token=conn.password,
        environment_url=conn.host,
        control_url=conn.extra_dejson.get("control_url"),
        verbose_log=False,
    )
    result = sdk.run_pipeline(PIPELINE, inputs=INPUTS)
    ti.xcom_push(key="execution_id", value=result["execution_id"])
    return dict(result["outputs"])


with counted_dag(DAG_IDS["a"]):
    PythonOperator(task_id="run", python_callable=run_with_sdk)

with counted_dag(DAG_IDS["b"]):
    CraftRunPipelineOperator(task_id="run", pipeline_name=PIPELINE, inputs=INPUTS, deferrable=False)

with counted_dag(DAG_IDS["c"]):
    CraftRunPipelineOperator(
        task_id="run",
        pipeline_name=PIPELINE,
        inputs=INPUTS,
        deferrable=True,
        finish_on_triggerer=False,
    )

with counted_dag(DAG_IDS["d"]):
    CraftRunPipelineOperator(task_id="run", pipeline_name=PIPELINE, inputs=INPUTS, deferrable=True)

for key, interval in (("e30", 30), ("e5", 5)):
    with counted_dag(DAG_IDS[key]):
        FixedIntervalPollOperator(
            task_id="run", pipeline_name=PIPELINE, inputs=INPUTS, poll_interval=interval
        )
