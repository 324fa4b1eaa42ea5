"""Craft AI outputs as Airflow Assets: the producer side of data-aware scheduling.

``output_assets`` says which output feeds which asset: the assets become the task's outlets,
and each asset event's extra carries the execution id, the output name and where the output is.

* ``count_words`` runs ``word-count`` and sends its ``upper`` file output to the Craft data
  store (``outputs_mapping``); it feeds ``craft_upper_copy``, on which ``craft_asset_consumer``
  is scheduled. The event's extra holds the data-store path the consumer reads.
* ``write_report`` runs ``all-types``; its ``report`` file output is stored by the operator
  (``output_storage``) and feeds ``craft_all_types_report``; the extra's ``uri`` is the stored
  copy's URI.

With the OpenLineage provider configured, both tasks also report their inputs and outputs as
OpenLineage datasets (docs/features/lineage.md).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from airflow.sdk import DAG, Asset, task

from craft_airflow import OutputDestination
from craft_airflow.operators.pipeline import CraftRunPipelineOperator

#: Where ``count_words`` puts its upper-cased copy in the data store (one object, overwritten by
#: every run: the asset is that object).
UPPER_COPY_PATH = "examples/assets/upper.txt"
UPPER_COPY = Asset(name="craft_upper_copy", uri=f"craft://craft_ai_default@/{UPPER_COPY_PATH}")
REPORT = Asset(name="craft_all_types_report")

with DAG(
    dag_id="craft_asset_producer",
    schedule=None,
    catchup=False,
    tags=["craft-ai", "example"],
    doc_md=__doc__,
):

    @task
    def write_document(run_id: str | None = None) -> str:
        folder = Path(tempfile.mkdtemp(prefix="craft-example-"))
        path = folder / "story.txt"
        path.write_text(f"airflow run {run_id} sends this story to a craft pipeline\n")
        return str(path)

    document = write_document()

    CraftRunPipelineOperator(
        task_id="count_words",
        pipeline_name="word-count",
        inputs={"document": document},
        outputs_mapping=[
            OutputDestination(pipeline_output_name="upper", datastore_path=UPPER_COPY_PATH)
        ],
        output_assets={"upper": UPPER_COPY},
    )

    CraftRunPipelineOperator(
        task_id="write_report",
        pipeline_name="all-types",
        inputs={"text": "report of {{ run_id }}", "document": document},
        output_assets={"report": REPORT},
    )
