"""Run one Craft AI pipeline once per input set, with dynamic task mapping.

Each mapped task instance starts its own execution; the outputs come back as a list.
"""

from __future__ import annotations

from airflow.sdk import DAG, task

from craft_airflow.operators.pipeline import CraftRunPipelineOperator

with DAG(
    dag_id="craft_mapped_runs",
    schedule=None,
    catchup=False,
    tags=["craft-ai", "example"],
    doc_md=__doc__,
):

    @task
    def input_sets() -> list[dict]:
        return [{"text": word, "number": n} for n, word in enumerate(["one", "two", "three"], 1)]

    runs = CraftRunPipelineOperator.partial(
        task_id="run_all_types", pipeline_name="all-types"
    ).expand(inputs=input_sets())

    @task
    def collect(outputs: list[dict]) -> list[str]:
        texts = [o["text"] for o in outputs]
        print(f"{len(texts)} executions returned: {texts}")
        return texts

    collect(runs.output)
