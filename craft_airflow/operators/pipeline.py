"""Run a Craft AI pipeline and, by default, wait for its execution and return its outputs.

The path of a task, top-down: :meth:`CraftRunPipelineOperator.execute` starts the run
(:meth:`~CraftRunPipelineOperator.submit_job`), then
:meth:`~craft_airflow.operators._base.CraftExecutionMixin.wait_for_result` (in
``operators/_base.py``) holds the wait (check once, defer to the trigger or wait in the worker)
and the ending (``finish_execution``: the steps of :mod:`craft_airflow.ending`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import ResumableJobMixin, conf
from airflow.sdk import BaseOperator

from craft_airflow.assets import check_output_names
from craft_airflow.inputs.files import open_file_inputs
from craft_airflow.inputs.mappings import (
    InputSource,
    OutputDestination,
    normalize_inputs_mapping,
    normalize_outputs_mapping,
)
from craft_airflow.inputs.values import declared_io, split_inputs
from craft_airflow.links import CraftExecutionLink
from craft_airflow.names import DEFAULT_CONN_ID
from craft_airflow.operators._base import CraftJobMixin, require_name

if TYPE_CHECKING:
    from airflow.sdk import Context, ObjectStoragePath

    from craft_airflow.lineage import ExecutionIO


class CraftRunPipelineOperator(CraftJobMixin, ResumableJobMixin, BaseOperator):
    """
    Run a Craft AI pipeline (``POST /api/v1/pipelines/{name}/run``) and follow its execution.

    Inputs are checked against the pipeline's declared inputs first. A ``file`` input accepts a
    local path, an ``ObjectStoragePath``, a storage URI (``file://``, ``s3://`` ..., e.g. the file
    output of an upstream Craft task), ``bytes`` or a binary stream; files are streamed.

    The execution id is pushed to XCom (key ``execution_id``) as soon as the execution exists.
    When waiting, the return value is the outputs ``{output name: value}``; a file output is
    streamed to ``output_storage`` and its value is the stored file's URI. Without waiting, the
    return value is the execution id (follow it with
    :class:`~craft_airflow.sensors.execution.CraftExecutionSensor`).

    On Airflow 3.3+ a retry follows the execution started by an earlier try when that execution
    is still running or has succeeded, instead of starting another one (``durable=False`` turns
    this off). On Airflow 3.1/3.2 every try starts a new execution.

    :param pipeline_name: The pipeline to run. (templated)
    :param inputs: Input values by input name, any data type. (templated)
    :param inputs_mapping: ``InputSource`` objects or dicts with the contract's field names:
        ``pipeline_input_name`` and one of ``constant_value``, ``environment_variable_name``,
        ``datastore_path``, ``is_null``. (templated)
    :param outputs_mapping: ``OutputDestination`` objects or dicts: ``pipeline_output_name`` and
        one of ``datastore_path``, ``is_null``. (templated)
    :param wait_for_completion: Wait for the execution to end and return its outputs.
    :param deferrable: Wait in the triggerer instead of occupying a worker slot.
    :param craft_conn_id: The ``craftai`` connection.
    :param timeout: Seconds to wait for the execution; ``None`` waits until it ends. The
        execution keeps running when the wait times out (the platform has no cancel call).
    :param poll_interval: Seconds to pause before asking again when the platform answers "not
        yet" without holding the request (deferred or in the worker).
    :param output_storage: Base location of file outputs (URI or ``ObjectStoragePath``); the
        connection's ``output_storage`` extra, then ``{AIRFLOW_HOME}/craft_outputs``, otherwise.
        (templated)
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
    :param output_assets: Output name -> ``Asset`` (or ``AssetAlias``) that output feeds; the
        assets are added to ``outlets``, and each asset event's extra carries the execution id,
        the output name and where the output is (see :mod:`craft_airflow.assets`).
    """

    pipeline_name: str

    template_fields: Sequence[str] = (
        "pipeline_name",
        "inputs",
        "inputs_mapping",
        "outputs_mapping",
        "output_storage",
        "craft_conn_id",
    )
    template_fields_renderers = {
        "inputs": "json",
        "inputs_mapping": "json",
        "outputs_mapping": "json",
    }
    operator_extra_links = (CraftExecutionLink(),)
    ui_color = "#e8f0fe"

    def __init__(
        self,
        *,
        pipeline_name: str,
        inputs: Mapping[str, Any] | None = None,
        inputs_mapping: Sequence[InputSource | Mapping[str, Any]] | None = None,
        outputs_mapping: Sequence[OutputDestination | Mapping[str, Any]] | None = None,
        wait_for_completion: bool = True,
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
        self.pipeline_name = require_name(pipeline_name, "pipeline_name")
        self.inputs = inputs
        self.inputs_mapping = inputs_mapping
        self.outputs_mapping = outputs_mapping
        self.wait_for_completion = wait_for_completion

    # -- execute -------------------------------------------------------------------------------

    def _waits(self) -> bool:
        return self.wait_for_completion

    def execute(self, context: Context) -> Any:
        """Start the run (:meth:`submit_job`), then wait and end: Airflow's
        ``ResumableJobMixin.execute_resumable`` calls :meth:`submit_job` (or re-attaches a retry to
        an earlier try's execution), then ``poll_until_complete``, which is
        :meth:`~craft_airflow.operators._base.CraftExecutionMixin.wait_for_result`: the wait, then
        ``finish_execution``, the ending."""
        return self.execute_resumable(context)

    def submit_job(self, context: Context) -> str:
        """Validate the inputs against the pipeline, start the run (its intent and id recorded
        in the task state store on 3.3+; an earlier try's execution adopted when that try died
        while creating it), announce the execution."""
        from craft_airflow.filesystem import datastore_keys_in

        hook = self.hook
        pipeline = hook.get_pipeline(self.pipeline_name)
        declared_inputs = declared_io(pipeline, "inputs")
        inputs_mapping = normalize_inputs_mapping(
            datastore_keys_in(self.inputs_mapping, self.craft_conn_id, "inputs_mapping"),
            target="run",
            declared=declared_inputs,
        )
        declared_outputs = declared_io(pipeline, "outputs")
        outputs_mapping = normalize_outputs_mapping(
            datastore_keys_in(self.outputs_mapping, self.craft_conn_id, "outputs_mapping"),
            target="run",
            declared=declared_outputs,
        )
        check_output_names(self.output_assets, declared_outputs, f"pipeline {self.pipeline_name!r}")
        json_inputs, file_sources = split_inputs(
            self.inputs,
            declared_inputs,
            mapped=[m["pipeline_input_name"] for m in inputs_mapping or ()],
        )
        with ExitStack() as stack:
            files = open_file_inputs(file_sources, stack)
            self.log.info(
                "Running Craft AI pipeline %r (inputs: %s; files: %s)",
                self.pipeline_name,
                ", ".join(json_inputs) or "none",
                ", ".join(files) or "none",
            )
            execution_id = hook.run_pipeline(
                self.pipeline_name,
                inputs=json_inputs,
                files=files or None,
                inputs_mapping=inputs_mapping,
                outputs_mapping=outputs_mapping,
                journal=self.creation_journal(context),
            )
        # The id is in the state store already (journal): announcing comes after.
        self.announce_execution(context, execution_id)
        return execution_id

    # -- lineage -------------------------------------------------------------------------------

    def known_io(self) -> ExecutionIO:
        from craft_airflow.lineage import mappings_io  # when the task runs: see operators/_base.py

        return mappings_io(self.inputs_mapping, self.outputs_mapping)

    def file_input_sources(self) -> tuple[Mapping[str, Any], frozenset[str]]:
        return (self.inputs if isinstance(self.inputs, Mapping) else {}), frozenset()
