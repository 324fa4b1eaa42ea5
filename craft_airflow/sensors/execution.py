"""Wait for a Craft AI execution started elsewhere (e.g. by an operator that did not wait)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import conf
from airflow.sdk import BaseSensorOperator, PokeReturnValue

from craft_airflow.errors import CraftInputError
from craft_airflow.links import CraftExecutionLink
from craft_airflow.names import DEFAULT_CONN_ID
from craft_airflow.operators._base import (
    CraftExecutionMixin,
    require_name,
    validate_live_logs_interval,
)
from craft_airflow.starting import (
    rendered_id_problem,
    start_fallback_reason,
    start_trigger_args,
)

if TYPE_CHECKING:
    from airflow.sdk import Context, ObjectStoragePath

    from craft_airflow.protocol.outcomes import WaitOutcome
    from craft_airflow.routes import LiveLogs


class CraftExecutionSensor(CraftExecutionMixin, BaseSensorOperator):
    """
    Wait until a Craft AI execution ends; succeed with its outputs when it succeeded.

    Works in ``poke`` and ``reschedule`` modes, and deferrable (the triggerer waits). A
    ``Failed``/``Error`` execution fails the task with the platform's message and the last log
    lines; its logs are copied into the task log when the wait ends. The return value (XCom) is
    the outputs ``{output name: value or file URI}``, as for the operators.

    :param execution_id: The execution to follow, e.g. the ``execution_id`` XCom of a
        non-waiting operator. (templated)
    :param craft_conn_id: The ``craftai`` connection.
    :param deferrable: Wait in the triggerer (``timeout`` bounds the wait).
    :param endpoint_name: The endpoint deployment that started the execution, if any: outputs
        are keyed by endpoint output name, and with only an endpoint token in the connection the
        execution is followed through the endpoint results route. (templated)
    :param endpoint_url_path: The endpoint's URL path when it differs from its name. (templated)
    :param output_storage: Base location of file outputs (URI or ``ObjectStoragePath``).
        (templated)
    :param finish_on_triggerer: With ``deferrable``, end the task on the triggerer (outputs,
        XComs, logs; one worker task start per run) instead of resuming on a worker. ``None``:
        ``[craft_ai] finish_on_triggerer`` (default ``True``). Tasks that rely on what only a
        worker does (``on_success_callback``, outlets, an overridden ``execute_complete``...)
        resume on a worker anyway: see ``docs/finishing-on-the-triggerer.md``.
    :param live_logs: While the sensor waits, show the execution's new log lines (``[craft]``
        prefix) and status changes in the task log: every ``live_logs_interval`` when
        deferrable, at each poke otherwise; the end copies only the lines not shown yet.
        ``None``: the connection's ``live_logs`` extra (default ``True``).
    :param live_logs_interval: Seconds between two reads of the new lines when deferrable (at
        least 1); ``None``: the connection's ``live_logs_interval`` extra (default 3).
    :param start_from_trigger: With ``deferrable`` on Airflow 3.3+, start the task on the
        triggerer (Airflow's ``start_from_trigger``): with finishing on the triggerer, no worker
        task start at all. ``None``: ``[craft_ai] start_from_trigger`` (default ``True``). The
        task starts on a worker anyway when an argument needs one (an ``XComArg``, a template
        the triggerer cannot render), or when it would end on a worker: see
        ``docs/finishing-on-the-triggerer.md``; the reason is in ``start_fallback``.
    """

    template_fields: Sequence[str] = (
        "execution_id",
        "craft_conn_id",
        "endpoint_name",
        "endpoint_url_path",
        "output_storage",
    )
    operator_extra_links = (CraftExecutionLink(),)
    ui_color = "#e8f0fe"
    _live: LiveLogs | None = None
    #: Why the task starts on a worker (``None``: it starts on the triggerer on Airflow 3.3+).
    start_fallback: str | None = None

    def __init__(
        self,
        *,
        execution_id: str,
        craft_conn_id: str = DEFAULT_CONN_ID,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        endpoint_name: str | None = None,
        endpoint_url_path: str | None = None,
        output_storage: str | ObjectStoragePath | None = None,
        finish_on_triggerer: bool | None = None,
        live_logs: bool | None = None,
        live_logs_interval: float | timedelta | None = None,
        start_from_trigger: bool | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.finish_on_triggerer = finish_on_triggerer
        self.live_logs = live_logs
        self.live_logs_interval = validate_live_logs_interval(live_logs_interval)
        self.execution_id = require_name(execution_id, "execution_id")
        self.craft_conn_id = craft_conn_id
        self.deferrable = deferrable
        self.endpoint_name = endpoint_name
        self.endpoint_url_path = endpoint_url_path
        self.output_storage = output_storage
        self.start_on_triggerer = start_from_trigger
        self.start_fallback = start_fallback_reason(self)
        if self.start_fallback is None:
            # Airflow's attributes: the scheduler defers the task straight to the trigger.
            self.start_from_trigger = True
            self.start_trigger_args = start_trigger_args(self)

    # -- CraftExecutionMixin ----------------------------------------------------------------

    def _poll_seconds(self) -> float:
        return float(self.poke_interval)

    def _wait_timeout(self) -> float | None:
        return float(self.timeout) if self.timeout is not None else None

    def check_execution_once(self, execution_id: str) -> WaitOutcome | None:
        # A sensor must find out on each poke, also where the route has no status call.
        return self.route.probe(self.hook, execution_id, poll_interval=self._poll_seconds())

    # -- execution ---------------------------------------------------------------------------

    def execute(self, context: Context) -> Any:
        problem = rendered_id_problem(self.execution_id)
        if problem is not None:
            raise CraftInputError(problem)
        if self.deferrable and self.start_fallback is not None:
            self.log.info("The task started on a worker: %s", self.start_fallback)
        self.announce_execution(context, str(self.execution_id))
        if not self.deferrable:
            return super().execute(context)
        # Deferrable: check once, then finish at once or defer.
        return self.wait_for_result(context, str(self.execution_id))

    def poke(self, context: Context) -> PokeReturnValue:
        execution_id = str(self.execution_id)
        event = self.check_execution_once(execution_id)
        live = self._poke_live_logs(context, execution_id)
        if event is None:
            if live is not None:
                self.route.show_new_lines(self.hook, live)
                self.keep_log_cursor(context, execution_id, live.state.cursor)
            return PokeReturnValue(is_done=False)
        if live is not None:
            event = live.finished(event, self.hook.call_context.clock())
        return PokeReturnValue(is_done=True, xcom_value=self.finish_execution(context, event))

    def _poke_live_logs(self, context: Context, execution_id: str) -> LiveLogs | None:
        """The live logs of the pokes: one follower state for the pokes of this process (poke
        mode), its cursor kept in the task state between two (reschedule mode)."""
        if self._live is None or self._live.state.execution_id != execution_id:
            self._live = self.live_logs_for(context, execution_id)
        return self._live

    def on_kill(self) -> None:
        self.log_no_cancel()
