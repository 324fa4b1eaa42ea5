"""DAG run by the secret-hygiene test (copied into a temporary DAGs folder, never the examples').

Paths where a token could travel that the example DAGs do not take: the endpoint-token-only
route (results, redirects and file downloads with ``?token=``, a sensor following it) and
failures whose text could carry a credential (a wrong endpoint token, a refused SDK token, an
unreachable platform, an invalid input, a wait that times out). No task retries, and none has an
upstream but the one it reads, so each runs whatever the others do. The connections are set by
the test (environment).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from airflow.sdk import DAG, task

from craft_airflow.operators.endpoint import CraftTriggerEndpointOperator
from craft_airflow.operators.pipeline import CraftRunPipelineOperator
from craft_airflow.sensors.execution import CraftExecutionSensor

with DAG(
    dag_id="craft_secret_hygiene",
    schedule=None,
    catchup=False,
    default_args={"retries": 0},
    tags=["craft-ai", "test"],
):

    @task
    def write_document(run_id: str | None = None) -> str:
        path = Path(tempfile.mkdtemp(prefix="craft-hygiene-")) / "words.txt"
        path.write_text(f"secret hygiene words, sent by {run_id}\n")
        return str(path)

    document = write_document()

    # Endpoint token only: trigger, long-poll the results route and download the file output,
    # all with the token in the query string.
    CraftTriggerEndpointOperator(
        task_id="endpoint_token_only",
        endpoint_name="all-types-endpoint",
        craft_conn_id="craft_endpoint_only",
        inputs={"text": "{{ run_id }}"},
        poll_interval=1,
    )
    CraftTriggerEndpointOperator(
        task_id="endpoint_token_only_file",
        endpoint_name="word-count-endpoint",
        craft_conn_id="craft_endpoint_only",
        files={"document": document},
        poll_interval=1,
    )
    started = CraftTriggerEndpointOperator(
        task_id="endpoint_token_only_no_wait",
        endpoint_name="all-types-endpoint",
        craft_conn_id="craft_endpoint_only",
        inputs={"text": "followed by a sensor"},
        wait_for_results=False,
    )
    CraftExecutionSensor(
        task_id="sensor_endpoint_token_only",
        execution_id=started.output,
        endpoint_name="all-types-endpoint",
        craft_conn_id="craft_endpoint_only",
        poke_interval=1,
        timeout=120,
    )
    CraftTriggerEndpointOperator(
        task_id="slow_endpoint_token_only",
        endpoint_name="slow-endpoint",
        craft_conn_id="craft_endpoint_only",
        inputs={"seconds": 2.5},
        poll_interval=1,
    )

    # Failures whose messages could carry a credential.
    CraftTriggerEndpointOperator(
        task_id="wrong_endpoint_token",
        endpoint_name="all-types-endpoint",
        craft_conn_id="craft_wrong_endpoint",
        inputs={"text": "refused"},
    )
    CraftTriggerEndpointOperator(
        task_id="endpoint_invalid_input",
        endpoint_name="all-types-endpoint",
        craft_conn_id="craft_endpoint_only",
        inputs={"number": "not a number"},
    )
    CraftRunPipelineOperator(
        task_id="bad_sdk_token",
        pipeline_name="all-types",
        craft_conn_id="craft_bad_sdk",
        inputs={"text": "refused"},
    )
    CraftRunPipelineOperator(
        task_id="unreachable_platform",
        pipeline_name="all-types",
        craft_conn_id="craft_unreachable",
        inputs={"text": "nobody listens"},
    )
    CraftTriggerEndpointOperator(
        task_id="slow_endpoint_wait_timeout",
        endpoint_name="slow-endpoint",
        craft_conn_id="craft_endpoint_only",
        inputs={"seconds": 3},
        poll_interval=1,
        timeout=1,
    )
    CraftTriggerEndpointOperator(
        task_id="unreachable_endpoint",
        endpoint_name="all-types-endpoint",
        craft_conn_id="craft_unreachable_endpoint_only",
        inputs={"text": "nobody listens"},
    )
