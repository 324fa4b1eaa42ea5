"""Scheduled on a Craft AI output: the consumer side of data-aware scheduling.

This DAG runs each time ``craft_asset_producer``'s ``count_words`` task updates the
``craft_upper_copy`` asset (its execution sent the ``upper`` output to the data store). The asset
event's extra says which execution produced it and where it is; ``count_upper_copy`` counts the
words of that data-store object in a new Craft execution (an ``inputs_mapping`` from the data
store: the file never passes through Airflow).

Triggered by hand there is no asset event: ``read_asset_event`` skips, and so does the rest.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.common.compat.sdk import AirflowSkipException
from airflow.sdk import DAG, Asset, task

from craft_airflow.operators.pipeline import CraftRunPipelineOperator

# The asset craft_asset_producer's count_words feeds: an asset is its name and URI.
UPPER_COPY = Asset(
    name="craft_upper_copy", uri="craft://craft_ai_default@/examples/assets/upper.txt"
)

with DAG(
    dag_id="craft_asset_consumer",
    schedule=[UPPER_COPY],
    catchup=False,
    tags=["craft-ai", "example"],
    doc_md=__doc__,
):

    @task(multiple_outputs=True)
    def read_asset_event(triggering_asset_events: Any = None) -> dict[str, Any]:
        """The extra of the latest ``craft_upper_copy`` event that triggered this run."""
        events = list(triggering_asset_events[UPPER_COPY]) if triggering_asset_events else []
        if not events:
            raise AirflowSkipException("No craft_upper_copy asset event: run by hand.")
        extra = dict(events[-1].extra)
        print(
            f"produced by execution {extra['execution_id']} (output {extra['output_name']}) "
            f"at {extra['uri']}, in run {events[-1].source_run_id}"
        )
        return extra

    event = read_asset_event()

    count = CraftRunPipelineOperator(
        task_id="count_upper_copy",
        pipeline_name="word-count",
        inputs_mapping=[
            {"pipeline_input_name": "document", "datastore_path": event["datastore_path"]}
        ],
    )

    @task
    def show(outputs: dict[str, Any], execution_id: str) -> int:
        print(f"the upper-cased copy of execution {execution_id} has {outputs['words']} words")
        return int(outputs["words"])

    show(count.output, event["execution_id"])
