"""What every Craft task does once an execution exists: wait, then end.

:meth:`CraftExecutionMixin.wait_for_result` is the whole path: announce the execution (XCom
``execution_id``, extra link), check its status once, then either defer to
:class:`~craft_airflow.triggers.execution.CraftExecutionTrigger` (which ends the task on the
triggerer when :mod:`craft_airflow.finishing` allows, else resumes it in
:meth:`~CraftExecutionMixin.execute_complete`) or wait in the worker (``route.wait``); then
:meth:`~CraftExecutionMixin.finish_execution` drives the task's ending, written once in
:mod:`craft_airflow.ending` (logs copied, outputs read and file outputs stored, or the failure
with its log tail), and turns it into the result or the matching Airflow exception. What the
task resolved is kept for its OpenLineage facets (:mod:`craft_airflow.lineage`) and its outputs'
asset events (:mod:`craft_airflow.assets`).

What a task needs only once it runs is imported inside the methods that use it, so that a DAG
file importing an operator stays cheap to parse (``benchmarks/import_cost.py``): the hooks
(``requests``), the trigger (Airflow's trigger classes), the routes, the ending and the output
locations, lineage and finishing.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from functools import cached_property
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NoReturn, Protocol, TypeVar

from airflow.providers.common.compat.sdk import AirflowSkipException
from airflow.sdk import BaseOperator

from craft_airflow.assets import (
    check_output_assets,
    outlets_with,
    output_locations,
    record_asset_events,
)
from craft_airflow.errors import CraftError, CraftInputError, InvalidTriggerEvent
from craft_airflow.links import persist_execution_link
from craft_airflow.names import (
    EXECUTION_ID_STATE_KEY,
    EXECUTION_ID_XCOM_KEY,
    LOG_CURSOR_KEY,
    METRICS_XCOM_KEY,
)
from craft_airflow.protocol.outcomes import (
    OutcomeStatus,
    WaitOutcome,
    killed_message,
    outcome_for_status,
)
from craft_airflow.protocol.statuses import ExecutionStatus

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage
    from airflow.sdk import Context, ObjectStoragePath
    from airflow.sdk.types import Logger
    from airflow.triggers.base import BaseTrigger

    from craft_airflow.ending import Ending
    from craft_airflow.hooks.craft import CraftAIHook
    from craft_airflow.journal import CreationJournal
    from craft_airflow.lineage import ExecutionIO, TaskLineage
    from craft_airflow.protocol.logs import LogCursor
    from craft_airflow.routes import CraftRoute, LiveLogs

T = TypeVar("T")

#: The payloads of Airflow's task end events (what a runner that resumes anyway passes on).
END_EVENT_PAYLOADS = ("success", "failed", "skipped")


def seconds_or_none(value: float | timedelta | None, name: str) -> float | None:
    """``value`` in seconds (a ``timedelta`` is converted); rejects negatives and non-numbers."""
    if value is None:
        return None
    if isinstance(value, timedelta):
        value = value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise CraftInputError(
            f"{name} must be a number of seconds >= 0 (or a timedelta), got {value!r}"
        )
    return float(value)


def require_name(value: T, name: str) -> T:
    """Return ``value`` unless it is ``None`` or a blank string (anything but a string is an
    XComArg, resolved at run time)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise CraftInputError(f"{name} must be a non-empty string")
    return value


def validate_poll_interval(value: float | timedelta) -> float:
    seconds = seconds_or_none(value, "poll_interval")
    if not seconds:
        raise CraftInputError(f"poll_interval must be > 0, got {value!r}")
    return seconds


def validate_live_logs_interval(value: float | timedelta | None) -> float | None:
    """``live_logs_interval`` in seconds (``None`` stays: the connection decides)."""
    from craft_airflow.connection import check_live_logs_interval

    if value is None:
        return None
    if isinstance(value, timedelta):
        value = value.total_seconds()
    try:
        return check_live_logs_interval(value, name="live_logs_interval")
    except CraftError as err:
        raise CraftInputError(str(err)) from None


class AirflowTask(Protocol):
    """What the mixins need from the Airflow class they are mixed into (``BaseOperator`` or
    ``BaseSensorOperator``), typed as Airflow types it."""

    log: Logger
    outlets: list[Any]

    def defer(
        self,
        *,
        trigger: BaseTrigger,
        method_name: str,
        kwargs: dict[str, Any] | None = None,
        timeout: timedelta | int | float | None = None,
    ) -> NoReturn: ...


# The mixins subclass the protocol for the type checker only: at run time the Airflow class
# later in the MRO provides ``log`` and ``defer``, and nothing of the mixin must shadow them.
if TYPE_CHECKING:
    _AirflowTask = AirflowTask
else:
    _AirflowTask = object


class CraftExecutionMixin(_AirflowTask):
    """Waiting for a Craft execution and handling its end, shared by operators and the sensor.

    The class using it sets ``craft_conn_id``, ``deferrable`` and ``output_storage`` (the
    operators through :class:`CraftJobMixin`), ``pipeline_name`` or ``endpoint_name`` (and
    ``endpoint_url_path``) when it has them, and implements :meth:`_wait_timeout` and
    :meth:`_poll_seconds`. What the credentials allow is asked of :attr:`route`.
    """

    craft_conn_id: str
    deferrable: bool
    output_storage: str | ObjectStoragePath | None
    #: The pipeline or endpoint deployment the execution belongs to, when known.
    pipeline_name: str | None = None
    endpoint_name: str | None = None
    endpoint_url_path: str | None = None
    #: End the task on the triggerer when deferring (``None``: ``[craft_ai] finish_on_triggerer``,
    #: default on); see :mod:`craft_airflow.finishing` for the cases that resume on a worker.
    finish_on_triggerer: bool | None = None
    #: Show the execution's new log lines while waiting (``None``: the connection's
    #: ``live_logs``), every ``live_logs_interval`` seconds (``None``: the connection's).
    live_logs: bool | None = None
    live_logs_interval: float | None = None
    #: Set once the task knows its execution; used by ``on_kill`` and the extra link.
    _craft_execution_id: str | None = None
    craft_execution_url: str | None = None
    #: Output name -> Asset or AssetAlias the output feeds (the operators' ``output_assets``).
    output_assets: Mapping[str, Any] = MappingProxyType({})
    #: What the wait and the collection left, for the OpenLineage facets.
    _craft_outcome: WaitOutcome | None = None
    _craft_outputs: dict[str, Any] | None = None
    _craft_output_dir: str | None = None
    _craft_metrics: dict[str, Any] | None = None

    # -- configuration points ---------------------------------------------------------------

    def _wait_timeout(self) -> float | None:
        """Seconds to wait for the execution to end; ``None`` waits without limit."""
        return None

    def _poll_seconds(self) -> float:
        """Pause after a quick "not yet" answer."""
        raise NotImplementedError

    # -- hook and route ---------------------------------------------------------------------

    @cached_property
    def hook(self) -> CraftAIHook:
        from craft_airflow.hooks.craft import CraftAIHook

        return CraftAIHook(craft_conn_id=self.craft_conn_id)

    @property
    def route(self) -> CraftRoute:
        """The credential route, decided from the connection and the endpoint (cheap: the
        connection is read once by the hook)."""
        from craft_airflow.routes import route_for  # the routes, ending and outputs: see above

        return route_for(
            self.hook.config,
            endpoint_name=self.endpoint_name,
            endpoint_url_path=self.endpoint_url_path,
        )

    # -- the execution exists -----------------------------------------------------------------

    def announce_execution(self, context: Context, execution_id: str) -> None:
        """Push the ``execution_id`` XCom and the extra link's URL; log where to follow it."""
        self._craft_execution_id = execution_id
        ti = context["ti"]
        ti.xcom_push(key=EXECUTION_ID_XCOM_KEY, value=execution_id)
        url = self.craft_execution_url = self._execution_url(execution_id)
        persist_execution_link(context, url)
        self.log.info("Craft AI execution %s%s", execution_id, f": {url}" if url else "")

    def _execution_url(self, execution_id: str) -> str | None:
        try:
            return self.hook.config.execution_url(
                execution_id,
                pipeline_name=self.pipeline_name,
                deployment_name=self.endpoint_name,
            )
        except Exception as err:  # a broken link template must not fail a started execution
            self.log.warning("Cannot build the Craft AI execution URL: %s", err)
            return None

    # -- live logs --------------------------------------------------------------------------

    def live_logs_settings(self) -> tuple[bool, float]:
        """Whether to follow the logs live, and the seconds between two reads: the task's
        arguments, else the connection's extras."""
        config = self.hook.config
        enabled = config.live_logs if self.live_logs is None else bool(self.live_logs)
        interval = self.live_logs_interval or config.live_logs_interval
        return enabled, interval

    def live_logs_for(self, context: Context, execution_id: str) -> LiveLogs | None:
        """The live logs of a wait on a worker (``None`` when off, or where the route has no
        logs), starting where an earlier try of this task stopped showing lines (its cursor
        in ``task_state_store``, Airflow 3.3+)."""
        from craft_airflow.protocol.following import Following
        from craft_airflow.routes import LiveLogs

        enabled, interval = self.live_logs_settings()
        if not enabled or self.route.logs_read(execution_id) is None:
            return None
        state = Following(execution_id, cursor=self.kept_log_cursor(context, execution_id))

        def save(cursor: LogCursor) -> None:
            self.keep_log_cursor(context, execution_id, cursor)

        return LiveLogs(state, interval, self.log, save)

    def kept_log_cursor(self, context: Context, execution_id: str) -> LogCursor:
        """The cursor an earlier try (or poke) kept for ``execution_id``, else the start."""
        from craft_airflow.protocol.logs import LogCursor

        store = context.get("task_state_store")
        if store is None:
            return LogCursor()
        try:
            kept = store.get(LOG_CURSOR_KEY)
        except Exception as err:  # only more repeats: never a reason to fail
            self.log.debug("Cannot read the live log cursor: %s", err)
            return LogCursor()
        return LogCursor.from_kept(kept, execution_id) or LogCursor()

    def after_kept_log_cursor(self, context: Context, outcome: WaitOutcome) -> WaitOutcome:
        """``outcome`` (an execution found ended at the first check) with the cursor an earlier
        try kept for it, if any, so that the end copies only the lines that try did not show."""
        if outcome.log_cursor is not None or not self.live_logs_settings()[0]:
            return outcome
        cursor = self.kept_log_cursor(context, outcome.execution_id)
        if cursor.since_ms is None:
            return outcome
        return outcome.with_log_cursor(cursor.to_kwargs())

    def keep_log_cursor(self, context: Context, execution_id: str, cursor: LogCursor) -> None:
        """Keep ``cursor`` in ``task_state_store`` for a retry (Airflow 3.3+; best effort)."""
        store = context.get("task_state_store")
        if store is None or cursor.since_ms is None:
            return
        try:
            store.set(LOG_CURSOR_KEY, cursor.kept(execution_id))
        except Exception as err:
            self.log.debug("Cannot keep the live log cursor: %s", err)

    # -- waiting ----------------------------------------------------------------------------

    def check_execution_once(self, execution_id: str) -> WaitOutcome | None:
        """The outcome if the execution has already ended, else ``None`` (also where the route
        has no status call: the wait that follows finds out)."""
        outcome = self.route.check_once(self.hook, execution_id)
        if outcome is not None:
            self.log.info("Craft AI execution %s is %s", execution_id, outcome.execution_status)
        return outcome

    def wait_for_result(self, context: Context, execution_id: str) -> Any:
        """Check once; then finish, defer (deferrable) or wait in the worker. Returns the
        task's result."""
        outcome = self.check_execution_once(execution_id)
        if outcome is not None:
            outcome = self.after_kept_log_cursor(context, outcome)
        else:
            live = self.live_logs_for(context, execution_id)
            if self.deferrable:
                self.defer_to_trigger(execution_id, context, live)  # raises TaskDeferred
            outcome = self.route.wait(
                self.hook,
                execution_id,
                timeout=self._wait_timeout(),
                poll_interval=self._poll_seconds(),
                live=live,
            )
            if live is not None:
                self.keep_log_cursor(context, execution_id, live.state.cursor)
        return self.finish_execution(context, outcome)

    def defer_to_trigger(
        self, execution_id: str, context: Context, live: LiveLogs | None = None
    ) -> None:
        """Hand the wait to the triggerer, which ends the task itself when it can
        (:mod:`craft_airflow.finishing`); otherwise the task resumes in :meth:`execute_complete`.
        With ``live``, the trigger follows the logs from its cursor.
        """
        # Here, not at the top: Airflow's trigger classes cost a DAG file's import.
        from craft_airflow.triggers.execution import CraftExecutionTrigger

        timeout = self._wait_timeout()
        end_time = datetime.now(UTC) + timedelta(seconds=timeout) if timeout is not None else None
        trigger = CraftExecutionTrigger(
            execution_id=execution_id,
            conn_id=self.craft_conn_id,
            end_time=end_time,
            route=self.route.to_kwargs(),
            poll_interval=self._poll_seconds(),
            finish=self._finish_plan_kwargs(context, execution_id),
            execution_url=self.craft_execution_url,
            live_logs=None
            if live is None
            else {"interval": live.interval, "cursor": live.state.cursor.to_kwargs()},
        )
        if live is not None:
            # Where a triggerer restart reads it back: one cheap push here spares the triggerer
            # Airflow's "XCom not found" error line for every deferred task.
            context["ti"].xcom_push(key=LOG_CURSOR_KEY, value=live.state.cursor.kept(execution_id))
        self.log.info("Deferring until Craft AI execution %s ends", execution_id)
        self.defer(trigger=trigger, method_name="execute_complete")

    def _finish_plan_kwargs(self, context: Context, execution_id: str) -> dict[str, Any] | None:
        from craft_airflow.finishing import finish_plan

        plan = finish_plan(self, context, execution_id, output_base=self.output_base())
        return None if plan is None else plan.to_kwargs()

    #: Methods whose override in a subclass would not run when the task ends on the triggerer.
    WORKER_ONLY_METHODS = ("execute_complete", "finish_execution", "post_execute")

    def worker_only_override(self) -> str | None:
        """The first of :attr:`WORKER_ONLY_METHODS` this task's class overrides, if any (it
        must then resume on a worker: :func:`~craft_airflow.finishing.fallback_reason`)."""
        for name in self.WORKER_ONLY_METHODS:
            base = getattr(BaseOperator if name == "post_execute" else CraftExecutionMixin, name)
            if getattr(type(self), name, None) is not base:
                return name
        return None

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        """Resume after the trigger fired: validate the event, then finish."""
        if isinstance(event, str) and event in END_EVENT_PAYLOADS:
            return self._finish_after_end_event(context)
        try:
            outcome = WaitOutcome.from_event(event)
        except InvalidTriggerEvent as err:
            raise CraftError(f"Invalid event from the Craft AI trigger: {err}") from err
        self._craft_execution_id = outcome.execution_id
        self.craft_execution_url = self._execution_url(outcome.execution_id)
        if outcome.log_cursor is not None:  # where the trigger stopped showing lines: a retry
            # of this try resumes there (the trigger's own copy, an XCom, is cleared by then)
            from craft_airflow.protocol.logs import LogCursor

            cursor = LogCursor.from_kwargs(outcome.log_cursor)
            if cursor is not None:
                self.keep_log_cursor(context, outcome.execution_id, cursor)
        return self.finish_execution(context, outcome)

    def _finish_after_end_event(self, context: Context) -> Any:
        """The trigger ended the task, but the runner resumed it anyway with the end event's
        payload (``dag.test()`` runs triggers inline and does so): finish here, as a worker
        resume would have."""
        ti: Any = context["ti"]
        execution_id = self._craft_execution_id or ti.xcom_pull(
            task_ids=ti.task_id, key=EXECUTION_ID_XCOM_KEY, map_indexes=ti.map_index
        )
        if not execution_id:
            raise CraftError("Resumed after the trigger ended the task, but no execution_id XCom")
        self.log.info(
            "The trigger ended the task but this runner resumed it; finishing execution %s here",
            execution_id,
        )
        self._craft_execution_id = str(execution_id)
        self.craft_execution_url = self._execution_url(str(execution_id))
        outcome = self.check_execution_once(str(execution_id))
        if outcome is None:
            outcome = self.route.wait(
                self.hook,
                str(execution_id),
                timeout=self._wait_timeout(),
                poll_interval=self._poll_seconds(),
            )
        return self.finish_execution(context, outcome)

    # -- the end ----------------------------------------------------------------------------

    def finish_execution(self, context: Context, outcome: WaitOutcome) -> Any:
        """Turn the outcome of a wait into the task's result. The one place that does so on a
        worker: the steps of :func:`~craft_airflow.ending.ending_steps` (the same the trigger
        drives), performed with the task's hook.

        success: the outputs ``{name: value or file URI}``; skipped: ``AirflowSkipException``;
        failed: ``CraftExecutionFailed`` with the platform's message and the log tail the
        outcome carries; timeout: ``CraftWaitTimeout``; error: ``CraftError``. The logs are
        copied into the task log (for a failure, the tail: it was read once by the wait).
        """
        from craft_airflow.ending import ending_steps
        from craft_airflow.hooks.craft import drive_ending
        from craft_airflow.outputs import execution_output_dir

        self._craft_outcome = outcome
        execution_id = outcome.execution_id

        def output_dir() -> ObjectStoragePath:
            return execution_output_dir(self.output_base(), context, execution_id)

        steps = ending_steps(outcome, self.route, output_dir)
        return self.end_task(context, drive_ending(self.hook, steps, self.log))

    def end_task(self, context: Context, ending: Ending) -> Any:
        """Return the outputs of a success (its asset events recorded), or raise; the
        execution's metrics, when read (a success, or a failure's metrics recorded before it
        failed), are pushed to XCom first."""
        if ending.metrics is not None:
            self._craft_metrics = ending.metrics
            context["ti"].xcom_push(key=METRICS_XCOM_KEY, value=ending.metrics)
        if ending.status == OutcomeStatus.SUCCESS:
            self._craft_outputs, self._craft_output_dir = ending.outputs, ending.output_dir
            if self.outlets:
                self.record_asset_events(context, ending.execution_id, ending.outputs)
            return ending.outputs
        if ending.status == OutcomeStatus.SKIPPED:
            raise AirflowSkipException(ending.message)
        assert ending.error is not None  # every other ending carries its error
        raise ending.error

    def output_base(self) -> ObjectStoragePath:
        from craft_airflow.outputs import resolve_output_base

        return resolve_output_base(self.output_storage, self.hook.config.output_storage)

    # -- assets and lineage -------------------------------------------------------------------

    def known_io(self) -> ExecutionIO:
        """The data-store mappings the task itself set (the pipeline operator's mappings); the
        execution's record, when the route can read it, is preferred for lineage."""
        from craft_airflow.lineage import ExecutionIO

        return ExecutionIO()

    def file_input_sources(self) -> tuple[Mapping[str, Any], frozenset[str]]:
        """The task's inputs by name that may be files, and the names known to be files."""
        return {}, frozenset()

    def record_asset_events(
        self, context: Context, execution_id: str, outputs: Mapping[str, Any]
    ) -> None:
        """Put the execution id, output name and location in the extra of the task's asset
        events (:mod:`craft_airflow.assets`)."""
        from craft_airflow.lineage import resolve_datastore_path, stored_output_locations

        datastore = {
            name: resolve_datastore_path(path, execution_id)
            for name, path in self.known_io().datastore_outputs.items()
        }
        record_asset_events(
            context["outlet_events"],
            self.outlets,
            self.output_assets,
            execution_id=execution_id,
            outputs=outputs,
            locations=output_locations(
                stored_output_locations(outputs, self._craft_output_dir),
                datastore,
                conn_id=self.craft_conn_id,
            ),
        )

    def craft_lineage(self) -> TaskLineage:
        """What the task resolved, as :class:`~craft_airflow.lineage.TaskLineage`: the
        execution's record (one status call, where the route has one) for its data-store
        mappings and file inputs, the task's own arguments for where the files came from."""
        from craft_airflow.lineage import execution_io, task_lineage

        execution_id = self._craft_execution_id
        record: Mapping[str, Any] = {}
        if execution_id is not None:
            try:
                record = self.route.read_execution(self.hook, execution_id) or {}
            except Exception as err:  # lineage is best effort: the task's own facts remain
                self.log.warning("Cannot read Craft AI execution %s: %s", execution_id, err)
        sources, known_files = self.file_input_sources()
        return task_lineage(
            environment_url=self.hook.config.environment_url,
            pipeline_name=self.pipeline_name or record.get("pipeline_name"),
            deployment_name=self.endpoint_name or record.get("deployment_name"),
            execution_id=execution_id,
            execution_url=self.craft_execution_url,
            status=record.get("status"),
            outcome=self._craft_outcome,
            io=execution_io(record) if record else self.known_io(),
            file_sources=sources,
            known_files=known_files,
            outputs=self._craft_outputs,
            output_dir=self._craft_output_dir,
            metrics=self._craft_metrics,
            environment_of=self._environment_of,
        )

    def _environment_of(self, conn_id: str) -> str | None:
        """The environment URL of a ``craft_ai`` connection (for its ``craft://`` paths)."""
        if conn_id == self.craft_conn_id:
            return self.hook.config.environment_url
        from craft_airflow.hooks.craft import CraftAIHook  # requests: not with a DAG file

        try:
            return CraftAIHook(craft_conn_id=conn_id).config.environment_url
        except Exception:
            return None

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage[Any, Any]:
        """Called by the OpenLineage listener when the task succeeded."""
        from craft_airflow.lineage import operator_lineage

        return operator_lineage(self.craft_lineage())

    def get_openlineage_facets_on_failure(self, task_instance: Any) -> OperatorLineage[Any, Any]:
        """Called by the OpenLineage listener when the task failed: the same facets, with the
        execution's error message."""
        from craft_airflow.lineage import operator_lineage

        return operator_lineage(self.craft_lineage())

    def log_no_cancel(self) -> None:
        """``on_kill``: the platform has no cancel call; say so, with the id and link."""
        message = killed_message(self._craft_execution_id, self.craft_execution_url)
        if self._craft_execution_id is None:
            self.log.info(message)
        else:
            self.log.warning(message)


class CraftJobMixin(CraftExecutionMixin):
    """The ``ResumableJobMixin`` side of the operators that start an execution.

    A retry on Airflow 3.3+ re-attaches to the execution an earlier try started (found in
    ``task_state_store``) while it is Pending/Running, or collects its outputs if it succeeded;
    after a failure it starts a new one. ``submit_job`` records the try's intent before the create
    call and the id right after it (:meth:`creation_journal`, :mod:`craft_airflow.journal`), so a
    retry after a worker died mid-creation looks for that execution instead of starting a
    second. Airflow 3.1/3.2 (compat stand-in): every try starts anew.
    The subclass implements ``submit_job`` and :meth:`_waits`, and passes its wait settings
    and ``output_assets`` (documented on the operators) to this ``__init__``, which validates
    and stores them; the assets join ``outlets``.
    """

    external_id_key = EXECUTION_ID_STATE_KEY
    _result: tuple[str, Any] | None = None

    def __init__(
        self,
        *,
        deferrable: bool,
        craft_conn_id: str,
        timeout: float | timedelta | None,
        poll_interval: float | timedelta,
        output_storage: str | ObjectStoragePath | None,
        finish_on_triggerer: bool | None = None,
        output_assets: Mapping[str, Any] | None = None,
        live_logs: bool | None = None,
        live_logs_interval: float | timedelta | None = None,
        **kwargs: Any,
    ) -> None:
        assets = check_output_assets(output_assets)
        if assets:
            kwargs["outlets"] = outlets_with(kwargs.get("outlets"), assets)
        super().__init__(**kwargs)
        self.finish_on_triggerer = finish_on_triggerer
        self.live_logs = live_logs
        self.live_logs_interval = validate_live_logs_interval(live_logs_interval)
        self.output_assets = assets
        self.deferrable = deferrable
        self.craft_conn_id = craft_conn_id
        self.timeout = seconds_or_none(timeout, "timeout")
        self.poll_interval = validate_poll_interval(poll_interval)
        self.output_storage = output_storage

    def _wait_timeout(self) -> float | None:
        return self.timeout

    def _poll_seconds(self) -> float:
        return self.poll_interval

    def _waits(self) -> bool:
        """Whether the task waits for the execution's end (else it returns the execution id)."""
        raise NotImplementedError

    def creation_journal(self, context: Context) -> CreationJournal | None:
        """Where ``submit_job`` records its intent and the id: the task's state store, when
        durable (Airflow 3.3+; the compat stand-in is never durable)."""
        store = context.get("task_state_store") if getattr(self, "durable", False) else None
        if store is None:
            return None
        from craft_airflow.journal import CreationJournal  # the protocol core: see above

        return CreationJournal(store, self.external_id_key)

    def get_job_status(self, external_id: Any, context: Context) -> str:
        status = self.route.adoptable_status(self.hook, str(external_id))
        if status == "NotFound":
            self.log.warning("Execution %s of an earlier try is gone", external_id)
        return status

    def is_job_active(self, status: str) -> bool:
        return status in (ExecutionStatus.PENDING, ExecutionStatus.RUNNING)

    def is_job_succeeded(self, status: str) -> bool:
        return status == ExecutionStatus.SUCCEEDED

    def poll_until_complete(self, external_id: Any, context: Context) -> Any:
        # The 3.3 mixin returns this method's value when it re-attaches to a running execution,
        # so it returns the task's result too, kept for get_job_result.
        execution_id = str(external_id)
        if self._craft_execution_id != execution_id:
            self.log.info("Following Craft AI execution %s started by an earlier try", execution_id)
            self.announce_execution(context, execution_id)
        result: Any = self.wait_for_result(context, execution_id) if self._waits() else execution_id
        self._result = (execution_id, result)
        return result

    def get_job_result(self, external_id: Any, context: Context) -> Any:
        execution_id = str(external_id)
        if self._result is not None and self._result[0] == execution_id:
            return self._result[1]
        # An earlier try's execution already succeeded: announce it and collect its outputs.
        self.log.info("Craft AI execution %s of an earlier try already succeeded", execution_id)
        self.announce_execution(context, execution_id)
        if not self._waits():
            return execution_id
        succeeded = outcome_for_status(execution_id, ExecutionStatus.SUCCEEDED)
        assert succeeded is not None  # a terminal status
        return self.finish_execution(context, self.after_kept_log_cursor(context, succeeded))

    def on_kill(self) -> None:
        self.log_no_cancel()
