"""DAGs of ``benchmarks/deployment_scale.py``: one per variant, each one task running the ``gate``
pipeline (held open until the benchmark creates the gate file named by the run's
``conf["gate"]``), as the side-by-side DAGs count worker starts and push the execution id.
"""

from __future__ import annotations

from bench_variants import SCALE_DAG_IDS, SCALE_PIPELINE
from fixed_interval_poll import FixedIntervalPollOperator
from worker_starts import counted_dag

from craft_airflow.operators.pipeline import CraftRunPipelineOperator

#: The gate pipeline's own deadline: longer than it takes to defer every task of a large run.
INPUTS = {"gate": "{{ dag_run.conf['gate'] }}", "index": 0, "timeout": 4 * 3600}


with counted_dag(SCALE_DAG_IDS["d"]):
    CraftRunPipelineOperator(
        task_id="run", pipeline_name=SCALE_PIPELINE, inputs=INPUTS, deferrable=True
    )

with counted_dag(SCALE_DAG_IDS["e30"]):
    FixedIntervalPollOperator(
        task_id="run", pipeline_name=SCALE_PIPELINE, inputs=INPUTS, poll_interval=30
    )
