"""Whether a deferrable Craft sensor starts on the triggerer, and what its trigger then carries.

Airflow's ``start_from_trigger``: the scheduler creates the task's trigger from the
``start_trigger_args`` serialized with the DAG, without a worker; the triggerer renders the
operator's template fields that are also trigger kwargs (here only ``execution_id``) in a context
built from the serialized DAG and the DAG run, then runs the trigger. Together with finishing on
the triggerer (:mod:`craft_airflow.finishing`) the task needs no worker at all. What Airflow
does, and why only a wait on a given execution starts there (a trigger may run twice: it never
creates an execution), is in ``docs/finishing-on-the-triggerer.md``.

Decided once, when the task is built (the DAG is parsed): :func:`start_fallback_reason` names
why the task must start on a worker; otherwise :func:`start_trigger_args` is what Airflow
serializes. The trigger does on the triggerer what the worker's ``execute`` would have done
first, with the secret-free :class:`StartPlan` it carries and the connection it reads again.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import conf

from craft_airflow.names import (
    CONFIG_SECTION,
    EXECUTION_TRIGGER_CLASSPATH,
    START_FROM_TRIGGER_OPTION,
)

if TYPE_CHECKING:
    from airflow.triggers.base import StartTriggerArgs

    from craft_airflow.finishing import FinishPlan

#: The reason every task starts on a worker on Airflow 3.1 and 3.2.
AIRFLOW_BEFORE_3_3 = "Airflow < 3.3 does not render templates on the triggerer"
#: Seconds Airflow's own trigger timeout comes after the trigger's: the trigger ends the task
#: itself with the wait's timeout message, Airflow's timeout (a worker start) is only a backstop.
TIMEOUT_GRACE = 60.0
#: The names of the task context a template may use and still be rendered on the triggerer:
#: plain values of the DAG run, or served by the triggerer's supervisor (``var``).
TRIGGERER_CONTEXT = frozenset(
    {
        "dag",
        "dag_run",
        "data_interval_end",
        "data_interval_start",
        "ds",
        "ds_nodash",
        "logical_date",
        "macros",
        "params",
        "partition_date",
        "partition_key",
        "run_id",
        "task",
        "task_instance_key_str",
        "ts",
        "ts_nodash",
        "ts_nodash_with_tz",
        "var",
    }
)
#: The task instance, of which a template may use on the triggerer only ``xcom_pull`` with an
#: explicit ``map_indexes`` (one XCom read; without it Airflow 3.3 asks for a sequence the
#: triggerer's supervisor does not serve, and the trigger would wait forever).
TASK_INSTANCE_NAMES = frozenset({"ti", "task_instance"})
#: The sensor's template fields the trigger does not render: they must be plain values.
PLAIN_FIELDS = ("craft_conn_id", "endpoint_name", "endpoint_url_path", "output_storage")
JINJA_MARKERS = ("{{", "{%", "{#")


@dataclass(frozen=True)
class StartPlan:
    """What the trigger needs to start the task itself (no secret: these are trigger kwargs).

    :param endpoint_name: the endpoint deployment that started the execution, if any.
    :param endpoint_url_path: the endpoint's URL path when it differs from its name.
    :param output_storage: the task's ``output_storage`` (a URI), if any.
    :param output_conn_id: the connection of that storage, if any.
    :param timeout: seconds to wait for the execution's end; ``None``: no limit.
    :param execution_timeout: the task's ``execution_timeout`` in seconds, if any (Airflow
        bounds the trigger with it too).
    :param poll_interval: pause after a "not yet" answered in under a second.
    :param live_logs: the task's ``live_logs`` (``None``: the connection's).
    :param live_logs_interval: the task's ``live_logs_interval`` (``None``: the connection's).
    :param push_return_value: push the outputs as ``return_value`` (``do_xcom_push``).
    :param multiple_outputs: also push one XCom per output name.
    """

    endpoint_name: str | None = None
    endpoint_url_path: str | None = None
    output_storage: str | None = None
    output_conn_id: str | None = None
    timeout: float | None = None
    execution_timeout: float | None = None
    poll_interval: float = 5.0
    live_logs: bool | None = None
    live_logs_interval: float | None = None
    push_return_value: bool = True
    multiple_outputs: bool = False

    def to_kwargs(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_kwargs(cls, kwargs: dict[str, Any]) -> StartPlan:
        return cls(**kwargs)

    def end_time(self, timeout_after: Any) -> float | None:
        """The wait's deadline (epoch seconds): :attr:`timeout` after the deferral, found from
        Airflow's trigger timeout ``timeout_after`` (a datetime: the deferral plus the shorter
        of :attr:`timeout` + :data:`TIMEOUT_GRACE` and :attr:`execution_timeout`; the trigger
        is not told when the deferral was). ``None`` without a timeout."""
        if timeout_after is None or self.timeout is None:
            return None
        airflow_bound = self.timeout + TIMEOUT_GRACE
        if self.execution_timeout is not None:
            airflow_bound = min(airflow_bound, self.execution_timeout)
        return float(timeout_after.timestamp()) - airflow_bound + self.timeout

    def finish_plan(
        self,
        ti: Any,
        execution_id: str,
        *,
        config_output_storage: str | None,
        execution_url: str | None,
    ) -> FinishPlan:
        """The :class:`~craft_airflow.finishing.FinishPlan` a worker would have given the
        trigger: the output folder of ``ti`` (``dag_id``, ``run_id``, ``task_id``,
        ``map_index``) for ``execution_id``, and the XComs that announce the execution."""
        from airflow.sdk import ObjectStoragePath

        from craft_airflow.finishing import FinishPlan
        from craft_airflow.names import EXECUTION_ID_XCOM_KEY, EXECUTION_URL_XCOM_KEY
        from craft_airflow.outputs import execution_output_dir, resolve_output_base

        task_base = (
            ObjectStoragePath(self.output_storage, conn_id=self.output_conn_id)
            if self.output_storage and self.output_conn_id
            else self.output_storage
        )
        base = resolve_output_base(task_base, config_output_storage)
        out = execution_output_dir(base, {"ti": ti}, execution_id)
        xcoms = {EXECUTION_ID_XCOM_KEY: execution_id}
        if execution_url:
            xcoms[EXECUTION_URL_XCOM_KEY] = execution_url
        return FinishPlan(
            output_dir=str(out),
            output_conn_id=getattr(out, "conn_id", None),
            xcoms=xcoms,
            push_return_value=self.push_return_value,
            multiple_outputs=self.multiple_outputs,
        )


def rendered_id_problem(execution_id: Any) -> str | None:
    """What is wrong with the sensor's ``execution_id`` once rendered (on a worker or on the
    triggerer), or ``None`` when it is a usable id."""
    if isinstance(execution_id, str) and execution_id.strip():
        return None
    # A template or XCom gave nothing usable (e.g. an upstream task that returned None).
    return (
        f"execution_id is {execution_id!r} once rendered; expected a non-empty execution id, "
        "e.g. the 'execution_id' XCom of a Craft task that did not wait"
    )


def start_from_trigger_default() -> bool:
    """``[craft_ai] start_from_trigger`` (default ``True``)."""
    return bool(conf.getboolean(CONFIG_SECTION, START_FROM_TRIGGER_OPTION, fallback=True))


def airflow_renders_on_the_triggerer() -> bool:
    """Airflow >= 3.3 renders a started task's template fields on the triggerer."""
    from craft_airflow.finishing import airflow_routes_failed_end_events

    return airflow_routes_failed_end_events()  # the same release: 3.3


def is_template(value: str) -> bool:
    return any(marker in value for marker in JINJA_MARKERS)


def template_needs_worker(template: str) -> str | None:
    """Why rendering ``template`` needs a worker, or ``None`` when the triggerer renders it:
    it uses only :data:`TRIGGERER_CONTEXT`, and the task instance only for ``xcom_pull`` calls
    with ``map_indexes``."""
    import jinja2
    from jinja2 import meta, nodes

    try:
        tree = jinja2.Environment().parse(template)
    except jinja2.TemplateSyntaxError as err:
        return f"the template does not parse ({err.message})"
    names = meta.find_undeclared_variables(tree)
    unknown = sorted(names - TRIGGERER_CONTEXT - TASK_INSTANCE_NAMES)
    if unknown:
        names_used = ", ".join(unknown)
        return f"the template uses {names_used}, which Craft does not render on the triggerer"
    uses = [n for n in tree.find_all(nodes.Name) if n.name in TASK_INSTANCE_NAMES]
    pulls = [
        call
        for call in tree.find_all(nodes.Call)
        if isinstance(call.node, nodes.Getattr)
        and call.node.attr == "xcom_pull"
        and isinstance(call.node.node, nodes.Name)
        and call.node.node.name in TASK_INSTANCE_NAMES
        and any(kw.key == "map_indexes" for kw in call.kwargs)
    ]
    if len(pulls) != len(uses):
        return (
            "the template uses the task instance other than for xcom_pull(..., map_indexes=...),"
            " which only a worker serves"
        )
    return None


def start_fallback_reason(task: Any) -> str | None:
    """Why the sensor ``task`` must start on a worker rather than on the triggerer, or ``None``.

    ``task`` is a :class:`~craft_airflow.sensors.execution.CraftExecutionSensor` being built:
    its wish (``start_on_triggerer``, ``None``: ``[craft_ai] start_from_trigger``), its
    ``deferrable``, its arguments as given (an ``XComArg``, a template the triggerer cannot
    render) and whether it can also end there
    (:func:`~craft_airflow.finishing.fallback_reason`).
    """
    from craft_airflow.finishing import fallback_reason

    wanted = getattr(task, "start_on_triggerer", None)
    if wanted is None:
        wanted = start_from_trigger_default()
    if not wanted:
        return "start_from_trigger is off"
    if not getattr(task, "deferrable", False):
        return "the task is not deferrable"
    if not airflow_renders_on_the_triggerer():
        return AIRFLOW_BEFORE_3_3
    execution_id = task.execution_id
    if not isinstance(execution_id, str):
        return f"execution_id is a {type(execution_id).__name__}, which only a worker resolves"
    if is_template(execution_id):
        reason = template_needs_worker(execution_id)
        if reason is not None:
            return f"execution_id: {reason}"
    for name in PLAIN_FIELDS:
        value = getattr(task, name, None)
        if value is None:
            continue
        if isinstance(value, str):
            plain = not is_template(value)
        else:  # an ObjectStoragePath (output_storage), not an XComArg
            from airflow.sdk import ObjectStoragePath  # loaded already: the task holds one

            plain = name == "output_storage" and isinstance(value, ObjectStoragePath)
        if not plain:
            return f"{name} is {value!r}, which only a worker renders"
    ending = fallback_reason(task)
    if ending is not None:
        return f"it would end on a worker ({ending})"
    return None


def start_trigger_args(task: Any) -> StartTriggerArgs:
    """What Airflow serializes to start ``task`` on the triggerer (its ``start_trigger_args``):
    the trigger with the raw ``execution_id`` (the triggerer renders it), the connection id and
    the :class:`StartPlan`; resuming, if it must, in ``execute_complete``."""
    from airflow.triggers.base import StartTriggerArgs

    storage = task.output_storage
    timeout = float(task.timeout) if task.timeout is not None else None
    plan = StartPlan(
        endpoint_name=task.endpoint_name,
        endpoint_url_path=task.endpoint_url_path,
        output_storage=None if storage is None else str(storage),
        output_conn_id=getattr(storage, "conn_id", None),
        timeout=timeout,
        execution_timeout=(
            None if task.execution_timeout is None else task.execution_timeout.total_seconds()
        ),
        poll_interval=float(task.poke_interval),
        live_logs=task.live_logs,
        live_logs_interval=task.live_logs_interval,
        push_return_value=bool(task.do_xcom_push),
        multiple_outputs=bool(getattr(task, "multiple_outputs", False)),
    )
    return StartTriggerArgs(
        trigger_cls=EXECUTION_TRIGGER_CLASSPATH,
        trigger_kwargs={
            "execution_id": task.execution_id,
            "conn_id": task.craft_conn_id,
            "start": plan.to_kwargs(),
        },
        next_method="execute_complete",
        next_kwargs=None,
        timeout=None if timeout is None else timedelta(seconds=timeout + TIMEOUT_GRACE),
    )
