"""Create or update a Craft AI deployment from a DAG, idempotently."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from craft_airflow.errors import CraftInputError
from craft_airflow.filesystem import datastore_keys_in
from craft_airflow.hooks.craft import CraftAIHook
from craft_airflow.inputs.mappings import (
    InputSource,
    MappingTarget,
    OutputDestination,
    normalize_inputs_mapping,
    normalize_outputs_mapping,
)
from craft_airflow.names import DEFAULT_CONN_ID
from craft_airflow.protocol.deployments import DeploymentSpec, public_deployment, updates_for

if TYPE_CHECKING:
    from airflow.sdk import Context

#: Creation-only fields a DAG may set beside the spec (§6.5).
CREATION_FIELDS = ("description", "endpoint_url_path", "execution_timeout_s", "mode")


class CraftDeploymentOperator(BaseOperator):
    """
    Create a Craft AI deployment, or update it to match: the same spec changes nothing.

    A new deployment is created (``POST /endpoints`` or ``POST /periodic-deployment``); an
    existing one of the same pipeline and rule gets one ``PATCH`` per differing property:
    ``schedule``, the values of constant and data-store mappings, ``is_enabled``. A difference no
    update can make (another pipeline, another rule, a mapping's kind) fails the task with a
    message naming the field. The endpoint token is never logged nor returned: read it from the
    platform or set it in the connection.

    The return value (XCom) is the deployment as the platform shows it without its token, plus
    ``created`` (bool) and ``updated`` (the properties changed).

    :param deployment_name: The deployment's name. (templated)
    :param pipeline_name: The deployed pipeline. (templated)
    :param execution_rule: ``"endpoint"`` or ``"periodic"``.
    :param schedule: CRON schedule of a periodic deployment (five fields, UTC). (templated)
    :param inputs_mapping: ``InputSource`` objects or dicts (§3.3); a periodic deployment maps
        every input. (templated)
    :param outputs_mapping: ``OutputDestination`` objects or dicts; a periodic deployment maps
        every output. (templated)
    :param enabled: Whether the deployment runs (a disabled periodic deployment runs no tick).
    :param creation_fields: Fields sent at creation only: ``description``,
        ``endpoint_url_path``, ``execution_timeout_s``, ``mode``.
    :param craft_conn_id: The ``craftai`` connection (needs its SDK token).
    """

    template_fields: Sequence[str] = (
        "deployment_name",
        "pipeline_name",
        "schedule",
        "inputs_mapping",
        "outputs_mapping",
    )
    ui_color = "#e8f0fe"

    def __init__(
        self,
        *,
        deployment_name: str,
        pipeline_name: str,
        execution_rule: str,
        schedule: str | None = None,
        inputs_mapping: Sequence[InputSource | Mapping[str, Any]] | None = None,
        outputs_mapping: Sequence[OutputDestination | Mapping[str, Any]] | None = None,
        enabled: bool = True,
        creation_fields: Mapping[str, Any] | None = None,
        craft_conn_id: str = DEFAULT_CONN_ID,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if execution_rule not in ("endpoint", "periodic"):
            raise CraftInputError(
                f"execution_rule: expected 'endpoint' or 'periodic', got {execution_rule!r}"
            )
        unknown = sorted(set(creation_fields or {}) - set(CREATION_FIELDS))
        if unknown:
            raise CraftInputError(
                f"creation_fields: unknown field(s) {unknown}; expected some of {CREATION_FIELDS}"
            )
        if not isinstance(enabled, bool):
            raise CraftInputError(f"enabled: expected True or False, got {enabled!r}")
        self.deployment_name = deployment_name
        self.pipeline_name = pipeline_name
        self.execution_rule = execution_rule
        self.schedule = schedule
        self.inputs_mapping = inputs_mapping
        self.outputs_mapping = outputs_mapping
        self.enabled = enabled
        self.creation_fields = dict(creation_fields or {})
        self.craft_conn_id = craft_conn_id

    def spec(self) -> DeploymentSpec:
        """The wanted deployment, validated (after templating)."""
        target: MappingTarget = "endpoint" if self.execution_rule == "endpoint" else "run"
        for name in ("deployment_name", "pipeline_name"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise CraftInputError(f"{name}: expected a non-empty name, got {value!r}")
        return DeploymentSpec(
            name=self.deployment_name,
            pipeline_name=self.pipeline_name,
            execution_rule="endpoint" if self.execution_rule == "endpoint" else "periodic",
            schedule=self.schedule,
            inputs_mapping=normalize_inputs_mapping(
                datastore_keys_in(self.inputs_mapping, self.craft_conn_id, "inputs_mapping"),
                target=target,
            )
            or [],
            outputs_mapping=normalize_outputs_mapping(
                datastore_keys_in(self.outputs_mapping, self.craft_conn_id, "outputs_mapping"),
                target=target,
            )
            or [],
            enabled=self.enabled,
            extra=self.creation_fields,
        )

    def execute(self, context: Context) -> dict[str, Any]:
        spec = self.spec()
        hook = CraftAIHook(craft_conn_id=self.craft_conn_id)
        current = hook.find_deployment(spec.name)
        created = current is None
        if current is None:
            hook.create_deployment(spec)
            self.log.info("Created %s deployment %s", spec.execution_rule, spec.name)
            current = hook.get_deployment(spec.name)
        changes = updates_for(current, spec)
        for change in changes:
            hook.update_deployment(spec.name, change)
        updated = [key for change in changes for key in change]
        if updated:
            self.log.info("Updated deployment %s: %s", spec.name, ", ".join(updated))
            current = hook.get_deployment(spec.name)
        elif not created:
            self.log.info("Deployment %s already matches: nothing to change", spec.name)
        return {**public_deployment(current), "created": created, "updated": updated}
