"""Ending a Craft task on the triggerer, without a second worker task start.

Airflow 3.3 lets a trigger end its task itself: a ``TaskSuccessEvent`` / ``TaskFailedEvent`` /
``TaskSkippedEvent`` whose ``xcoms`` the triggerer pushes. What that does and does not do is in
``docs/finishing-on-the-triggerer.md``; this module holds both halves of the feature:

- on the worker, when the task defers: :func:`finish_plan` decides whether this task may end on
  the triggerer (:func:`fallback_reason` names what would not happen there, e.g. an
  ``on_success_callback``) and, if so, returns the secret-free :class:`FinishPlan` the trigger
  carries;
- on the triggerer: :func:`finish_event` turns the wait's outcome into the end event, doing what
  :meth:`~craft_airflow.operators._base.CraftExecutionMixin.finish_execution` does on a worker:
  logs copied into the task log, outputs read (file outputs streamed to the output storage, every
  storage call off the event loop), the same XComs, the same failure message and log tail;
  :func:`push_xcoms` then stores those XComs as a worker stores them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from craft_airflow.names import (
    CONFIG_SECTION,
    EXECUTION_ID_XCOM_KEY,
    EXECUTION_URL_XCOM_KEY,
    FINISH_ON_TRIGGERER_OPTION,
    RETURN_VALUE_XCOM_KEY,
)

if TYPE_CHECKING:
    from airflow.sdk import Context
    from airflow.sdk.types import Logger
    from airflow.triggers.base import BaseTaskEndEvent

    from craft_airflow.hooks.craft_async import CraftAIAsyncHook
    from craft_airflow.outcomes import WaitOutcome
    from craft_airflow.routes import CraftRoute

#: The XCom backend Airflow's triggerer path matches (it writes JSON straight to the DB).
DEFAULT_XCOM_BACKENDS = (
    "airflow.sdk.execution_time.xcom.BaseXCom",
    "airflow.sdk.bases.xcom.BaseXCom",
    "airflow.models.xcom.BaseXCom",
    "",
)
#: Methods whose override in a subclass would not run when the task ends on the triggerer.
WORKER_ONLY_METHODS = (
    "execute_complete",
    "finish_execution",
    "collect_outputs",
    "copy_execution_logs",
    "post_execute",
)


@dataclass(frozen=True)
class FinishPlan:
    """What the trigger needs to end the task (no secret: these are trigger kwargs).

    :param output_dir: URI of the execution's output folder (file outputs go under it).
    :param output_conn_id: the connection of that storage, if any.
    :param xcoms: XComs pushed again at the end (``execution_id``, the extra link's URL).
    :param push_return_value: push the outputs as ``return_value`` (``do_xcom_push``).
    :param multiple_outputs: also push one XCom per output name.
    """

    output_dir: str
    output_conn_id: str | None = None
    xcoms: dict[str, str] = field(default_factory=dict)
    push_return_value: bool = True
    multiple_outputs: bool = False

    def to_kwargs(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_kwargs(cls, kwargs: dict[str, Any]) -> FinishPlan:
        return cls(**kwargs)


# -- on the worker ---------------------------------------------------------------------------


def finish_on_triggerer_default() -> bool:
    """``[craft_ai] finish_on_triggerer`` (default ``True``)."""
    from airflow.providers.common.compat.sdk import conf

    return bool(conf.getboolean(CONFIG_SECTION, FINISH_ON_TRIGGERER_OPTION, fallback=True))


def airflow_routes_failed_end_events() -> bool:
    """Airflow >= 3.3 sends a failed end event through retries (older ones fail terminally)."""
    from airflow import __version__
    from packaging.version import Version

    return Version(__version__).release >= (3, 3)


#: The reason every task resumes on a worker on Airflow 3.1 and 3.2.
AIRFLOW_BEFORE_3_3 = "Airflow < 3.3 does not retry a task that a trigger failed"


def fallback_reason(task: Any) -> str | None:
    """Why ``task`` must resume on a worker rather than end on the triggerer, or ``None``."""
    from craft_airflow.operators._base import CraftExecutionMixin

    wanted = getattr(task, "finish_on_triggerer", None)
    if wanted is None:
        wanted = finish_on_triggerer_default()
    if not wanted:
        return "finish_on_triggerer is off"
    if getattr(task, "on_success_callback", None):
        return "on_success_callback runs only on a worker"
    if getattr(task, "outlets", None):
        return "outlets (asset events) are recorded only by a worker"
    if getattr(task, "soft_fail", False):
        return "soft_fail is applied only on a worker"
    for name in WORKER_ONLY_METHODS:
        base = getattr(CraftExecutionMixin, name, None)
        if name == "post_execute":
            from airflow.sdk import BaseOperator

            base = BaseOperator.post_execute
        if getattr(type(task), name, None) is not base:
            return f"{type(task).__name__} overrides {name}"
    backend = _xcom_backend()
    if backend not in DEFAULT_XCOM_BACKENDS:
        return f"the XCom backend {backend} is not used by the triggerer"
    if not airflow_routes_failed_end_events():
        return AIRFLOW_BEFORE_3_3
    return None


def _xcom_backend() -> str:
    from airflow.providers.common.compat.sdk import conf

    return conf.get("core", "xcom_backend", fallback="") or ""


def finish_plan(
    task: Any, context: Context, execution_id: str, *, output_base: Any
) -> FinishPlan | None:
    """The plan for ending ``task`` on the triggerer, or ``None`` to resume on a worker (the
    reason is logged)."""
    from craft_airflow.outputs import execution_output_dir

    reason = fallback_reason(task)
    if reason is not None:
        task.log.info("The task resumes on a worker when the execution ends: %s", reason)
        return None
    xcoms = {EXECUTION_ID_XCOM_KEY: execution_id}
    url = getattr(task, "craft_execution_url", None)
    if url:
        xcoms[EXECUTION_URL_XCOM_KEY] = url
    out = execution_output_dir(output_base, context, execution_id)
    return FinishPlan(
        output_dir=str(out),
        output_conn_id=getattr(out, "conn_id", None),
        xcoms=xcoms,
        push_return_value=bool(getattr(task, "do_xcom_push", True)),
        multiple_outputs=bool(getattr(task, "multiple_outputs", False)),
    )


# -- on the triggerer -------------------------------------------------------------------------


async def copy_logs(
    hook: CraftAIAsyncHook, route: CraftRoute, execution_id: str, log: Logger
) -> None:
    """Copy the execution's logs into the task's log (``[craft]`` prefix), as the worker does.

    Best effort: a wait that ended must not fail because of the logs. The endpoint route has
    no logs.
    """
    from craft_airflow.routes import RouteKind

    if route.kind != RouteKind.SDK:
        log.info("Execution logs need the SDK token; not copied.")
        return
    try:
        logs = await hook.get_logs(execution_id)
    except Exception as err:
        log.warning("Could not read the logs of Craft AI execution %s: %s", execution_id, err)
        return
    log.info("Logs of Craft AI execution %s (%d lines):", execution_id, len(logs))
    for line in logs:
        log.info("[craft] %s %s", line.get("timestamp", ""), line.get("message", ""))


async def read_outputs(
    hook: CraftAIAsyncHook, plan: FinishPlan, execution_id: str, route: CraftRoute
) -> dict[str, Any]:
    """The outputs by name (as ``route.read_outputs`` gives them on a worker); file outputs
    streamed under ``plan.output_dir``."""
    from airflow.sdk import ObjectStoragePath

    from craft_airflow.outputs import acollect_endpoint_outputs, acollect_run_outputs
    from craft_airflow.routes import RouteKind

    dest_dir = ObjectStoragePath(plan.output_dir, conn_id=plan.output_conn_id)
    if route.kind == RouteKind.ENDPOINT:
        endpoint_name = str(route.endpoint_name)
        results = await hook.get_endpoint_results(
            str(route.url_path), execution_id, endpoint_name=endpoint_name
        )
        return await acollect_endpoint_outputs(
            results,
            download_url=lambda url, write: hook.download_endpoint_file(
                url, write, endpoint_name=endpoint_name
            ),
            dest_dir=dest_dir,
        )
    return await acollect_run_outputs(
        await hook.get_outputs(execution_id),
        download=lambda name, write: hook.download_output(execution_id, name, write),
        dest_dir=dest_dir,
        endpoint_names=route.endpoint_name is not None,
    )


async def finish_event(
    hook: CraftAIAsyncHook,
    plan: FinishPlan,
    outcome: WaitOutcome,
    route: CraftRoute,
    log: Logger,
) -> BaseTaskEndEvent:
    """The task's end for the wait's ``outcome``: what ``finish_execution`` does on a worker."""
    from airflow.triggers.base import TaskFailedEvent, TaskSkippedEvent, TaskSuccessEvent

    from craft_airflow.errors import CraftError, CraftExecutionFailed, CraftWaitTimeout
    from craft_airflow.outcomes import OutcomeStatus

    execution_id = outcome.execution_id
    error: CraftError
    if outcome.status == OutcomeStatus.FAILED:
        if outcome.log_tail:  # read once by the wait, as on a worker
            log.info(
                "Last %d log lines of Craft AI execution %s:", len(outcome.log_tail), execution_id
            )
            for line in outcome.log_tail:
                log.info("[craft] %s", line)
        status = str(outcome.execution_status) if outcome.execution_status else None
        error = CraftExecutionFailed(execution_id, status, outcome.failure_text())
        log.error("Task failed: %s: %s", type(error).__name__, error)
        return TaskFailedEvent(xcoms=dict(plan.xcoms))
    await copy_logs(hook, route, execution_id, log)
    if outcome.status == OutcomeStatus.SUCCESS:
        log.info("Craft AI execution %s succeeded", execution_id)
        try:
            outputs = await read_outputs(hook, plan, execution_id, route)
        except Exception as err:
            log.error("Task failed: %s: %s", type(err).__name__, err)
            return TaskFailedEvent(xcoms=dict(plan.xcoms))
        xcoms: dict[str, Any] = dict(plan.xcoms)
        if plan.push_return_value:
            xcoms[RETURN_VALUE_XCOM_KEY] = outputs
            if plan.multiple_outputs:
                xcoms.update({str(k): v for k, v in outputs.items()})
        log.info("Task ended on the triggerer: success")
        return TaskSuccessEvent(xcoms=xcoms)
    if outcome.status == OutcomeStatus.SKIPPED:
        log.info("Task skipped: %s", outcome.message)
        return TaskSkippedEvent(xcoms=dict(plan.xcoms))
    if outcome.status == OutcomeStatus.TIMEOUT:
        error = CraftWaitTimeout(execution_id, outcome.message or None)
    else:
        error = CraftError(
            outcome.message or f"Could not follow Craft AI execution {execution_id}."
        )
    log.error("Task failed: %s: %s", type(error).__name__, error)
    return TaskFailedEvent(xcoms=dict(plan.xcoms))


async def push_xcoms(event: BaseTaskEndEvent, task_instance: Any) -> BaseTaskEndEvent:
    """Push the end event's XComs through the triggerer's supervisor (the Execution API, as a
    worker pushes them); the same event without them.

    Airflow 3.3 pushes an end event's ``xcoms`` with ``XComModel.set``, which JSON-encodes each
    value once more than a worker does: a downstream task then pulls the JSON text (a ``str``),
    not the dict or number. A trigger run outside a triggerer has no task instance
    (``dag.test()`` runs it inline): the event keeps its XComs.

    :param event: what :func:`finish_event` returned.
    :param task_instance: the trigger's ``task_instance`` (``dag_id``, ``task_id``, ``run_id``,
        ``map_index``), or ``None``.
    """
    if not event.xcoms or task_instance is None:
        return event
    from airflow.sdk.bases.xcom import BaseXCom
    from airflow.sdk.execution_time import task_runner
    from airflow.sdk.execution_time.comms import SetXCom

    # What ``BaseXCom.aset`` does in newer Task SDKs (3.1's has no ``aset``).
    where = {
        "dag_id": task_instance.dag_id,
        "task_id": task_instance.task_id,
        "run_id": task_instance.run_id,
        "map_index": task_instance.map_index,
    }
    for key, value in event.xcoms.items():
        serialized = BaseXCom.serialize_value(value, key=key, **where)
        await task_runner.SUPERVISOR_COMMS.asend(SetXCom(key=key, value=serialized, **where))
    return type(event)(xcoms=None)
