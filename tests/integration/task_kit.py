"""Running one Craft task through its public entry points, outside a DAG run: ``execute`` until
it defers, the trigger's ``run()`` (as a triggerer runs it), and the resume on a worker."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from airflow_compat import AIRFLOW_VERSION

#: Airflow 3.3+: a trigger may end its task (below, every task resumes on a worker).
ENDS_ON_TRIGGERER = AIRFLOW_VERSION.release[:2] >= (3, 3)


class StateStore(dict):
    """``task_state_store``: what a try leaves for the next one."""

    def set(self, key: str, value: Any) -> None:  # type: ignore[override]
        self[key] = value


def task_context(store: StateStore | None = None, try_number: int = 1) -> dict[str, Any]:
    """The context keys a Craft task reads: ``ti`` (ids, XCom push) and ``task_state_store``."""
    ti = SimpleNamespace(
        dag_id="d",
        run_id="r",
        task_id="t",
        map_index=-1,
        try_number=try_number,
        stats_tags={},
        xcoms={},
    )
    ti.xcom_push = lambda key, value: ti.xcoms.__setitem__(key, value)
    return {"ti": ti, "task_state_store": store if store is not None else StateStore()}


def defer(task: Any, context: dict[str, Any]) -> Any:
    """``task.execute(context)``, which must defer: the ``TaskDeferred``."""
    from airflow.providers.common.compat.sdk import TaskDeferred

    with pytest.raises(TaskDeferred) as deferred:
        task.execute(context)
    return deferred.value


def trigger_end(trigger: Any) -> Any:
    """Run the trigger as a triggerer does; its one event."""

    async def run() -> list[Any]:
        return [event async for event in trigger.run()]

    events = asyncio.run(run())
    assert len(events) == 1, events
    return events[0]


def resume(task: Any, context: dict[str, Any], deferred: Any, event: Any) -> Any:
    """Resume ``task`` on a worker with the trigger's event, as Airflow does."""
    return getattr(task, deferred.method_name)(context, event=event.payload)
