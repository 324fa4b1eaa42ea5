"""Train a model on Craft AI, then promote it only if its recorded accuracy clears a threshold.

The ``train-model`` pipeline records metrics with the official SDK from inside its execution:
``accuracy`` (one value) and ``loss`` (one value per epoch). The Craft task pushes them to the
``metrics`` XCom (``{name: value}``, a list for a list metric); a branch reads ``accuracy`` and
follows ``promote`` when it reaches the ``threshold`` param, else ``reject``. A task can also
fetch the metrics of any execution with ``CraftAIHook().get_execution_metrics(execution_id)``.
"""

from __future__ import annotations

from airflow.sdk import DAG, Param, task

from craft_airflow.names import METRICS_XCOM_KEY
from craft_airflow.operators.pipeline import CraftRunPipelineOperator

with DAG(
    dag_id="craft_train_and_promote",
    schedule=None,
    catchup=False,
    tags=["craft-ai", "example"],
    doc_md=__doc__,
    render_template_as_native_obj=True,  # the epochs param stays a number
    params={
        "epochs": Param(8, type="integer", minimum=1, description="training epochs"),
        "threshold": Param(0.9, type="number", description="accuracy needed to promote"),
    },
):
    train = CraftRunPipelineOperator(
        task_id="train",
        pipeline_name="train-model",
        inputs={"epochs": "{{ params.epochs }}"},
    )

    @task.branch
    def check_accuracy(ti=None, params=None) -> str:
        """``promote`` when the execution's ``accuracy`` metric reaches the threshold."""
        metrics = ti.xcom_pull(task_ids="train", key=METRICS_XCOM_KEY)
        accuracy = metrics["accuracy"]
        print(f"accuracy {accuracy:.4f}, threshold {params['threshold']}, loss {metrics['loss']}")
        return "promote" if accuracy >= params["threshold"] else "reject"

    @task
    def promote(outputs: dict, ti=None) -> str:
        """Where a real DAG would register the model: here, say which one."""
        execution_id = ti.xcom_pull(task_ids="train", key="execution_id")
        print(f"promoting the model of execution {execution_id}: {outputs['model']}")
        return execution_id

    @task
    def reject(ti=None) -> str:
        """The model stays where it is."""
        execution_id = ti.xcom_pull(task_ids="train", key="execution_id")
        print(f"not promoting the model of execution {execution_id}")
        return execution_id

    branch = check_accuracy()
    train >> branch
    branch >> [promote(train.output), reject()]
