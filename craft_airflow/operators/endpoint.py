"""Trigger a Craft AI endpoint deployment and, by default, wait for its results."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import ResumableJobMixin, conf
from airflow.sdk import BaseOperator

from craft_airflow.connection import mask_secret
from craft_airflow.errors import CraftAPIError
from craft_airflow.inputs.files import open_file_inputs
from craft_airflow.inputs.values import split_endpoint_inputs
from craft_airflow.links import CraftExecutionLink
from craft_airflow.names import DEFAULT_CONN_ID
from craft_airflow.operators._base import CraftJobMixin, require_name

if TYPE_CHECKING:
    from airflow.sdk import Context, ObjectStoragePath


class CraftTriggerEndpointOperator(CraftJobMixin, ResumableJobMixin, BaseOperator):
    """
    Trigger a Craft AI endpoint deployment with JSON inputs, file inputs, or both.

    Credentials come from the connection, never from task arguments: with an endpoint token for
    this deployment (the ``endpoint_tokens`` extra, else ``endpoint_token``) the public endpoint
    route is used (``POST /endpoints/{endpoint_url_path}``); with none, the SDK-token route
    (``POST /api/v1/deployments/{name}/executions``). The execution is followed with the SDK
    token when the connection has one (status, logs, outputs), else through the endpoint's
    results route.

    XCom, return value, retries and file outputs work as for
    :class:`~craft_airflow.operators.pipeline.CraftRunPipelineOperator`; outputs are keyed by
    endpoint output name.

    :param endpoint_name: The endpoint deployment's name. (templated)
    :param inputs: Endpoint inputs by name. JSON values; ``bytes``, paths and binary streams are
        sent as files, and so are strings for inputs the deployment declares as ``file`` (known
        with an SDK token). (templated)
    :param files: File inputs by name: local path, storage URI, ``ObjectStoragePath``, ``bytes``
        or binary stream. (templated)
    :param endpoint_url_path: The endpoint's URL path when it differs from its name; with an
        SDK token it is read from the deployment. (templated)
    :param wait_for_results: Wait for the execution to end and return its outputs.
    :param deferrable: Wait in the triggerer instead of occupying a worker slot.
    :param craft_conn_id: The ``craftai`` connection.
    :param timeout: Seconds to wait for the execution; ``None`` waits until it ends.
    :param poll_interval: Seconds to pause before asking again when the platform answers "not
        yet" without holding the request (deferred or in the worker).
    :param output_storage: Base location of file outputs (see the pipeline operator). (templated)
    :param finish_on_triggerer: With ``deferrable``, end the task on the triggerer (outputs,
        XComs, logs; one worker task start per run) instead of resuming on a worker. ``None``:
        ``[craft_ai] finish_on_triggerer`` (default ``True``). Tasks that rely on what only a
        worker does (``on_success_callback``, outlets, an overridden ``execute_complete``...)
        resume on a worker anyway: see ``docs/finishing-on-the-triggerer.md``.
    :param live_logs: While the task waits, show the execution's new log lines (``[craft]``
        prefix) and status changes in the task log, and copy at the end only the lines not
        shown yet. ``None``: the connection's ``live_logs`` extra (default ``True``). See
        ``docs/operators/live-logs.md``.
    :param live_logs_interval: Seconds between two reads of the new lines (at least 1);
        ``None``: the connection's ``live_logs_interval`` extra (default 3).
    :param output_assets: Endpoint output name -> ``Asset`` (or ``AssetAlias``) that output
        feeds (see the pipeline operator).
    """

    endpoint_name: str

    template_fields: Sequence[str] = (
        "endpoint_name",
        "inputs",
        "files",
        "endpoint_url_path",
        "output_storage",
        "craft_conn_id",
    )
    template_fields_renderers = {"inputs": "json", "files": "json"}
    operator_extra_links = (CraftExecutionLink(),)
    ui_color = "#e8f0fe"

    def __init__(
        self,
        *,
        endpoint_name: str,
        inputs: Mapping[str, Any] | None = None,
        files: Mapping[str, Any] | None = None,
        endpoint_url_path: str | None = None,
        wait_for_results: bool = True,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        craft_conn_id: str = DEFAULT_CONN_ID,
        timeout: float | timedelta | None = None,
        poll_interval: float | timedelta = 5.0,
        output_storage: str | ObjectStoragePath | None = None,
        finish_on_triggerer: bool | None = None,
        output_assets: Mapping[str, Any] | None = None,
        live_logs: bool | None = None,
        live_logs_interval: float | timedelta | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            deferrable=deferrable,
            craft_conn_id=craft_conn_id,
            timeout=timeout,
            poll_interval=poll_interval,
            output_storage=output_storage,
            finish_on_triggerer=finish_on_triggerer,
            output_assets=output_assets,
            live_logs=live_logs,
            live_logs_interval=live_logs_interval,
            **kwargs,
        )
        self.endpoint_name = require_name(endpoint_name, "endpoint_name")
        self.inputs = inputs
        self.files = files
        self.endpoint_url_path = endpoint_url_path
        self.wait_for_results = wait_for_results

    # -- execute -------------------------------------------------------------------------------

    def _read_deployment(self, *, required: bool) -> dict[str, Any]:
        """The deployment (its URL path and file inputs); optional when an endpoint token is
        there to trigger it anyway."""
        try:
            deployment = self.hook.get_deployment(self.endpoint_name)
        except CraftAPIError as err:
            if required:
                raise
            self.log.warning(
                "Cannot read deployment %r (%s); triggering it anyway", self.endpoint_name, err
            )
            return {}
        if deployment.get("endpoint_token"):
            # The deployment carries its endpoint token: keep it out of any log.
            mask_secret(str(deployment["endpoint_token"]))
        return deployment

    def _waits(self) -> bool:
        return self.wait_for_results

    def execute(self, context: Context) -> Any:
        return self.execute_resumable(context)

    def submit_job(self, context: Context) -> str:
        """Trigger the endpoint with the credential the route chose (intent and id recorded as
        for the pipeline operator), announce the execution."""
        route = self.route  # raises CraftConfigError when the connection has no usable token
        file_input_names: list[str | None] = []
        if route.reads_deployment():
            deployment = self._read_deployment(required=route.needs_deployment())
            if not self.endpoint_url_path and deployment.get("endpoint_url_path"):
                self.endpoint_url_path = deployment["endpoint_url_path"]
                route = self.route
            file_input_names = [
                m.get("endpoint_input_name") or m.get("pipeline_input_name")
                for m in deployment.get("inputs_mapping") or ()
                if isinstance(m, Mapping) and m.get("data_type") == "file"
            ]
        json_inputs, file_sources = split_endpoint_inputs(
            self.inputs, self.files, file_input_names=[n for n in file_input_names if n]
        )
        with ExitStack() as stack:
            files = open_file_inputs(file_sources, stack)
            self.log.info(
                "Triggering Craft AI endpoint %r with the %s (inputs: %s; files: %s)",
                self.endpoint_name,
                route.start_credential,
                ", ".join(json_inputs) or "none",
                ", ".join(files) or "none",
            )
            execution_id = route.trigger_endpoint(
                self.hook,
                inputs=json_inputs,
                files=files or None,
                journal=self.creation_journal(context),
            )
        # The id is in the state store already (journal): announcing comes after.
        self.announce_execution(context, execution_id)
        return execution_id

    # -- lineage -------------------------------------------------------------------------------

    def file_input_sources(self) -> tuple[Mapping[str, Any], frozenset[str]]:
        inputs = self.inputs if isinstance(self.inputs, Mapping) else {}
        files = self.files if isinstance(self.files, Mapping) else {}
        return {**inputs, **files}, frozenset(files)
