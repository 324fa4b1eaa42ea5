"""Whether a deferring Craft task may end on the triggerer, and the plan the trigger carries.

Airflow 3.3 lets a trigger end its task itself: a ``TaskSuccessEvent`` / ``TaskFailedEvent`` /
``TaskSkippedEvent``. What that does and does not do is in ``docs/finishing-on-the-triggerer.md``.
Decided once, on the worker, when the task defers: :func:`fallback_reason` names what would not
happen on the triggerer (e.g. an ``on_success_callback``, or OpenLineage's end event); otherwise
:func:`finish_plan` returns the secret-free :class:`FinishPlan` the trigger carries. The ending
itself is the same on both sides (:mod:`craft_airflow.ending`); the trigger turns it into the end
event (:mod:`craft_airflow.triggers.execution`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from airflow import __version__ as airflow_version
from airflow.providers.common.compat.sdk import conf
from packaging.version import Version

from craft_airflow.names import (
    CONFIG_SECTION,
    EXECUTION_ID_XCOM_KEY,
    EXECUTION_URL_XCOM_KEY,
    FINISH_ON_TRIGGERER_OPTION,
    METRICS_XCOM_KEY,
    RETURN_VALUE_XCOM_KEY,
)
from craft_airflow.outputs import execution_output_dir

if TYPE_CHECKING:
    from airflow.sdk import Context, ObjectStoragePath

#: The XCom backend Airflow's triggerer path matches (it writes JSON straight to the DB).
DEFAULT_XCOM_BACKENDS = (
    "airflow.sdk.execution_time.xcom.BaseXCom",
    "airflow.sdk.bases.xcom.BaseXCom",
    "airflow.models.xcom.BaseXCom",
    "",
)
#: The reason every task resumes on a worker on Airflow 3.1 and 3.2.
AIRFLOW_BEFORE_3_3 = "Airflow < 3.3 does not retry a task that a trigger failed"
#: The reason a task resumes on a worker where listeners (e.g. OpenLineage) are registered:
#: Airflow calls none when a trigger ends the task (``docs/finishing-on-the-triggerer.md``).
LISTENERS_RUN_ON_A_WORKER = (
    "task listeners (e.g. OpenLineage's COMPLETE or FAIL event) are called only on a worker"
)


@dataclass(frozen=True)
class FinishPlan:
    """What the trigger needs to end the task (no secret: these are trigger kwargs).

    :param output_dir: URI of the execution's output folder (file outputs go under it).
    :param output_conn_id: the connection of that storage, if any.
    :param xcoms: the XComs of the execution's announcement (``execution_id``, the extra link's
        URL), pushed before the wait by the worker, or by the trigger that started the task. A
        deferral keeps them (Airflow clears a task's XComs only when a try starts), so the end
        does not push them again.
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

    def end_xcoms(
        self, outputs: dict[str, Any] | None, metrics: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """The XComs the task's end adds: the execution's ``metrics`` when read, and for a
        success (``outputs``) what a worker pushes of a return value (``return_value``, one per
        output name with ``multiple_outputs``). Each is one request through the triggerer's
        supervisor, which all the triggerer's ends share."""
        xcoms: dict[str, Any] = {}
        if metrics is not None:
            xcoms[METRICS_XCOM_KEY] = metrics
        if outputs is not None and self.push_return_value:
            xcoms[RETURN_VALUE_XCOM_KEY] = outputs
            if self.multiple_outputs:
                xcoms.update({str(k): v for k, v in outputs.items()})
        return xcoms


def finish_on_triggerer_default() -> bool:
    """``[craft_ai] finish_on_triggerer`` (default ``True``)."""
    return bool(conf.getboolean(CONFIG_SECTION, FINISH_ON_TRIGGERER_OPTION, fallback=True))


def airflow_routes_failed_end_events() -> bool:
    """Airflow >= 3.3 sends a failed end event through retries (older ones fail terminally)."""
    return Version(airflow_version).release >= (3, 3)


def fallback_reason(task: Any) -> str | None:
    """Why ``task`` must resume on a worker rather than end on the triggerer, or ``None``.

    ``task`` is a Craft task: its ``worker_only_override()`` names a method its class overrides
    that only a worker would run.
    """
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
    overridden = task.worker_only_override()
    if overridden is not None:
        return f"{type(task).__name__} overrides {overridden}"
    backend = _xcom_backend()
    if backend not in DEFAULT_XCOM_BACKENDS:
        return f"the XCom backend {backend} is not used by the triggerer"
    if not airflow_routes_failed_end_events():
        return AIRFLOW_BEFORE_3_3
    if task_listeners_registered():
        return LISTENERS_RUN_ON_A_WORKER
    return None


def task_listeners_registered() -> bool:
    """Whether a task-instance listener is registered in this process (OpenLineage's, when a
    transport is configured): Airflow calls none when a trigger ends the task, so the
    ``COMPLETE`` / ``FAIL`` lineage event and its facets would never be emitted."""
    from airflow.providers.common.compat.sdk import get_listener_manager

    try:
        return bool(get_listener_manager().has_listeners)
    except Exception:  # no listener manager to ask: nothing would be missed
        return False


def _xcom_backend() -> str:
    return conf.get("core", "xcom_backend", fallback="") or ""


def finish_plan(
    task: Any, context: Context, execution_id: str, *, output_base: ObjectStoragePath
) -> FinishPlan | None:
    """The plan for ending ``task`` on the triggerer, or ``None`` to resume on a worker (the
    reason is logged)."""
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
