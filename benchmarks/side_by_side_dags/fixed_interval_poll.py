"""Variant (e) of ``benchmarks/side_by_side.py``: the fixed-interval status poll of the dbt Cloud
and Databricks deferrable operators, rebuilt for a Craft execution (benchmark only).

The operator starts the execution on a worker and defers; the trigger asks
``GET /executions/{id}`` every ``poll_interval`` seconds (``asyncio.sleep`` between polls, one
HTTP client and one access token per trigger) and fires one event with the final status; the task
then resumes on a worker, checks the status and reads the outputs, as those providers'
``execute_complete`` do. On this folder's ``PYTHONPATH`` in every Airflow component (the
triggerer imports the trigger by its classpath); ``.airflowignore`` keeps the dag-processor off it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx
from airflow.sdk import BaseHook, BaseOperator, Context
from airflow.sdk.exceptions import AirflowException
from airflow.triggers.base import BaseTrigger, TriggerEvent

from craft_airflow.hooks.craft import CraftAIHook

TERMINAL = frozenset({"Succeeded", "Skipped", "Failed", "Error"})


class FixedIntervalPollTrigger(BaseTrigger):
    """Poll one execution's status every ``poll_interval`` seconds until it is terminal.

    :param execution_id: the execution to follow.
    :param conn_id: the ``craftai`` connection (read again on the triggerer: no secret here).
    :param poll_interval: seconds between two polls.
    """

    def __init__(self, execution_id: str, conn_id: str, poll_interval: float) -> None:
        super().__init__()
        self.execution_id = execution_id
        self.conn_id = conn_id
        self.poll_interval = float(poll_interval)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{__name__}.{type(self).__name__}",
            {
                "execution_id": self.execution_id,
                "conn_id": self.conn_id,
                "poll_interval": self.poll_interval,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        conn = await BaseHook.aget_connection(self.conn_id)
        environment = str(conn.host).rstrip("/")
        control = str(conn.extra_dejson.get("control_url") or environment).rstrip("/")
        async with httpx.AsyncClient(timeout=60) as client:
            refresh = await client.post(
                f"{control}/api/v1/auth/refresh", json={"refresh_token": conn.password}
            )
            refresh.raise_for_status()
            headers = {"Authorization": f"Bearer {refresh.json()['access_token']}"}
            url = f"{environment}/api/v1/executions/{self.execution_id}"
            while True:
                response = await client.get(
                    url, params={"include_io_values": "false"}, headers=headers
                )
                response.raise_for_status()
                status = response.json()["status"]
                if status in TERMINAL:
                    yield TriggerEvent({"status": status, "execution_id": self.execution_id})
                    return
                await asyncio.sleep(self.poll_interval)


class FixedIntervalPollOperator(BaseOperator):
    """Run a pipeline, defer to :class:`FixedIntervalPollTrigger`, resume on a worker to read the
    outputs (returned, as the Craft operator's).

    :param pipeline_name: the pipeline to run.
    :param inputs: its inputs.
    :param poll_interval: seconds between two status polls on the triggerer.
    :param craft_conn_id: the ``craftai`` connection.
    """

    template_fields = ("inputs",)

    def __init__(
        self,
        *,
        pipeline_name: str,
        inputs: Mapping[str, Any],
        poll_interval: float,
        craft_conn_id: str = "craft_ai_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.pipeline_name = pipeline_name
        self.inputs = dict(inputs)
        self.poll_interval = poll_interval
        self.craft_conn_id = craft_conn_id

    def execute(self, context: Context) -> None:
        hook = CraftAIHook(self.craft_conn_id)
        try:
            execution_id = hook.run_pipeline(self.pipeline_name, inputs=self.inputs)
        finally:
            hook.close()
        context["ti"].xcom_push(key="execution_id", value=execution_id)
        self.defer(
            trigger=FixedIntervalPollTrigger(execution_id, self.craft_conn_id, self.poll_interval),
            method_name="execute_complete",
        )

    def execute_complete(self, context: Context, event: dict[str, Any]) -> dict[str, Any]:
        if event["status"] != "Succeeded":
            raise AirflowException(f"Execution {event['execution_id']} ended {event['status']}")
        hook = CraftAIHook(self.craft_conn_id)
        try:
            outputs = hook.get_outputs(event["execution_id"])
        finally:
            hook.close()
        return {o["pipeline_output_name"]: o.get("value") for o in outputs}
