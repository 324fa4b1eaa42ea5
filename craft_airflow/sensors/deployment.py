"""Wait for a deployment's next finished execution (started by its schedule, or by a call
Airflow did not make) and return its outputs."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import conf
from airflow.sdk import BaseSensorOperator, PokeReturnValue

from craft_airflow.errors import CraftError, CraftExecutionFailed, CraftInputError
from craft_airflow.hooks.craft import CraftAIHook
from craft_airflow.links import CraftExecutionLink, persist_execution_link
from craft_airflow.names import DEFAULT_CONN_ID, EXECUTION_ID_XCOM_KEY
from craft_airflow.protocol.deployments import (
    execution_payload,
    is_failed,
    next_finished,
    outputs_by_name,
    parse_date,
)
from craft_airflow.protocol.readers import execution_error_message
from craft_airflow.triggers.deployment import CraftDeploymentExecutionTrigger

if TYPE_CHECKING:
    from airflow.sdk import Context


class CraftDeploymentExecutionSensor(BaseSensorOperator):
    """
    Wait for the next execution of a deployment, created after ``after``, to finish; succeed
    with its outputs ``{output name: value, or craft:// location of a data-store output}``.

    For executions Airflow did not start: a periodic deployment's ticks, an endpoint called by
    another system. Of the executions created after ``after``, the first to finish counts. A
    ``Failed``/``Error`` one fails the task with the platform's message. The execution id is
    pushed as the ``execution_id`` XCom. Modes: ``poke``, ``reschedule``, and ``deferrable``
    (the triggerer lists the executions; ``timeout`` bounds the wait).

    :param deployment_name: The deployment. (templated)
    :param after: Only executions created after this moment (aware ``datetime`` or ISO string)
        count; ``None``: the DAG run's start. (templated)
    :param craft_conn_id: The ``craftai`` connection (its SDK token lists executions).
    :param deferrable: Wait in the triggerer.
    """

    template_fields: Sequence[str] = ("deployment_name", "after", "craft_conn_id")
    operator_extra_links = (CraftExecutionLink(),)
    ui_color = "#e8f0fe"

    def __init__(
        self,
        *,
        deployment_name: str,
        after: str | datetime | None = None,
        craft_conn_id: str = DEFAULT_CONN_ID,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not isinstance(deployment_name, str) or not deployment_name.strip():
            raise CraftInputError("deployment_name must be a non-empty string")
        self.deployment_name = deployment_name
        self.after = after
        self.craft_conn_id = craft_conn_id
        self.deferrable = deferrable

    def _after(self, context: Context) -> datetime:
        if self.after is None:
            started = context["dag_run"].start_date
            return started if started is not None else datetime.now(UTC)
        if isinstance(self.after, datetime):
            return self.after if self.after.tzinfo else self.after.replace(tzinfo=UTC)
        moment = parse_date(str(self.after))
        if moment is None:
            raise CraftInputError(
                f"after: expected an aware datetime or an ISO-8601 date, got {self.after!r}"
            )
        return moment

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        found = self.poke(context)
        if isinstance(found, PokeReturnValue) and found.is_done:
            return found.xcom_value
        end_time = time.time() + float(self.timeout) if self.timeout is not None else None
        self.defer(
            trigger=CraftDeploymentExecutionTrigger(
                self.deployment_name,
                self._after(context).isoformat(),
                self.craft_conn_id,
                poll_interval=float(self.poke_interval),
                end_time=end_time,
            ),
            method_name="execute_complete",
        )
        return None

    def poke(self, context: Context) -> PokeReturnValue:
        hook = CraftAIHook(craft_conn_id=self.craft_conn_id)
        try:
            pipeline = (hook.get_deployment(self.deployment_name).get("pipeline") or {}).get("name")
            executions = hook.list_pipeline_executions(str(pipeline))
            item = next_finished(executions, self.deployment_name, self._after(context))
            if item is None:
                return PokeReturnValue(is_done=False)
            execution_id = str(item["execution_id"])
            if is_failed(item):
                error = execution_error_message(hook.get_execution(execution_id))
                payload = execution_payload(item, None, error)
            else:
                outputs = outputs_by_name(
                    hook.get_outputs(execution_id), self.craft_conn_id, execution_id
                )
                payload = execution_payload(item, outputs)
        finally:
            hook.close()
        return PokeReturnValue(is_done=True, xcom_value=self._finish(context, payload))

    def execute_complete(self, context: Context, event: dict[str, Any]) -> Any:
        """Resume after the trigger's event (deferrable mode)."""
        outcome = event.get("outcome")
        if outcome == "timeout":
            raise CraftError(
                f"No execution of deployment {self.deployment_name} finished within"
                f" {self.timeout} s"
            )
        if outcome != "finished":
            raise CraftError(str(event.get("message") or f"Unexpected event {outcome!r}"))
        payload = {k: v for k, v in event.items() if k != "outcome"}
        return self._finish(context, payload)

    def _finish(self, context: Context, payload: dict[str, Any]) -> Any:
        execution_id = str(payload["execution_id"])
        context["ti"].xcom_push(key=EXECUTION_ID_XCOM_KEY, value=execution_id)
        try:
            config = CraftAIHook(craft_conn_id=self.craft_conn_id).config
            url: str | None = config.execution_url(
                execution_id,
                pipeline_name=payload.get("pipeline_name"),
                deployment_name=self.deployment_name,
            )
        except Exception as err:  # a broken link template must not fail the task
            self.log.warning("Cannot build the Craft AI execution URL: %s", err)
            url = None
        persist_execution_link(context, url)
        if payload["outputs"] is None:
            raise CraftExecutionFailed(
                str(payload["execution_id"]),
                payload.get("status"),
                f"execution of deployment {self.deployment_name}:"
                f" {payload.get('error') or 'no message'}",
            )
        self.log.info(
            "Execution %s of deployment %s finished: %s",
            payload["execution_id"],
            self.deployment_name,
            payload["status"],
        )
        return payload["outputs"]
