"""CraftExecutionTrigger: waits for a Craft AI execution on the triggerer, for operators and
the sensor alike, and fires exactly one event: with a finish plan
(:mod:`craft_airflow.finishing`), the task's end (``finish_event``: the steps of
:mod:`craft_airflow.ending` driven on the event loop, as a worker drives them); otherwise a
:class:`~craft_airflow.protocol.outcomes.WaitOutcome` for the worker to resume with."""

from __future__ import annotations

import asyncio
import importlib
import sys
import time
from collections.abc import AsyncIterator, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from airflow.sdk import ObjectStoragePath
from airflow.sdk.bases.xcom import BaseXCom
from airflow.sdk.execution_time import task_runner
from airflow.sdk.execution_time.comms import GetXCom, SetXCom, XComResult
from airflow.triggers.base import (
    BaseTaskEndEvent,
    BaseTrigger,
    TaskFailedEvent,
    TaskSkippedEvent,
    TaskSuccessEvent,
    TriggerEvent,
)

from craft_airflow.ending import Ending, ending_steps
from craft_airflow.errors import clean
from craft_airflow.finishing import FinishPlan
from craft_airflow.names import EXECUTION_TRIGGER_CLASSPATH, LOG_CURSOR_KEY
from craft_airflow.protocol.config import DEFAULT_LIVE_LOGS_INTERVAL, MIN_LIVE_LOGS_INTERVAL
from craft_airflow.protocol.following import Following
from craft_airflow.protocol.logs import LogCursor
from craft_airflow.protocol.outcomes import (
    OutcomeStatus,
    WaitOutcome,
    error_outcome,
    killed_message,
    timeout_outcome,
)
from craft_airflow.routes import CraftRoute, LiveLogs, RouteKind, route_for, route_from_kwargs
from craft_airflow.starting import StartPlan, rendered_id_problem

if TYPE_CHECKING:
    from airflow.sdk.types import Logger

    from craft_airflow.hooks.craft_async import CraftAIAsyncHook

CLASSPATH = EXECUTION_TRIGGER_CLASSPATH
ASYNC_HOOK_MODULE = "craft_airflow.hooks.craft_async"


async def load_async_hook() -> None:
    """Import the async hook in a thread the first time: with aiohttp and requests it takes
    about 0.4 s, which would otherwise stall every other trigger of the triggerer's loop."""
    if ASYNC_HOOK_MODULE not in sys.modules:
        await asyncio.to_thread(importlib.import_module, ASYNC_HOOK_MODULE)


def task_runner_comms() -> Any:
    """The supervisor's channel when running in a triggerer (or a task), else ``None``."""
    return getattr(task_runner, "SUPERVISOR_COMMS", None)


def _epoch(value: float | datetime | None) -> float | None:
    if value is None or isinstance(value, int | float):
        return value
    return value.timestamp()


class CraftExecutionTrigger(BaseTrigger):
    """Wait for an execution to end and fire one event carrying a ``WaitOutcome`` dict.

    The trigger holds no secret: its route is a kind and names
    (:meth:`~craft_airflow.routes.CraftRoute.to_kwargs`); the tokens are read from the
    connection again on the triggerer.

    :param execution_id: the execution to follow.
    :param conn_id: the ``craftai`` connection.
    :param end_time: wall-clock deadline (epoch seconds, or an aware datetime); past it the event
        is ``timeout`` and the execution keeps running. ``None``: no deadline.
    :param route: the route's kwargs (:meth:`~craft_airflow.routes.CraftRoute.to_kwargs`);
        ``None``: the SDK-token route.
    :param poll_interval: pause after a "not yet" answered in under a second.
    :param finish: a :class:`~craft_airflow.finishing.FinishPlan` as kwargs: the trigger then ends
        the task itself (``finish_event``) instead of resuming it on a worker.
    :param execution_url: the execution's page, for the line a killed task logs (``on_kill``).
    :param live_logs: ``{"interval": seconds, "cursor": LogCursor kwargs}``: show the
        execution's status changes and new log lines (after the cursor) in the task log while
        waiting; ``None``: off. The cursor is kept in the XCom ``craft_log_cursor`` every
        :data:`~craft_airflow.protocol.following.SAVE_EVERY` seconds, so a triggerer restart
        resumes near where it stopped; the event carries it to whoever ends the task.
    :param start: a :class:`~craft_airflow.starting.StartPlan` as kwargs: the task started on
        the triggerer (``start_from_trigger``), ``execution_id`` is as the triggerer rendered
        it, and the trigger first does what the worker's ``execute`` would have done (check the
        id, read the connection for the route, the link and the output storage, push the
        ``execution_id`` and link XComs); ``route``, ``finish``, ``end_time``, ``live_logs``,
        ``execution_url`` and ``poll_interval`` then come from it.
    """

    def __init__(
        self,
        execution_id: str,
        conn_id: str,
        *,
        end_time: float | datetime | None = None,
        route: Mapping[str, Any] | None = None,
        poll_interval: float = 5.0,
        finish: dict[str, Any] | None = None,
        execution_url: str | None = None,
        live_logs: dict[str, Any] | None = None,
        start: dict[str, Any] | None = None,
    ) -> None:
        BaseTrigger.__init__(self)  # not super(): untyped_calls_exclude misses super() calls
        self.execution_id = execution_id
        self.conn_id = conn_id
        self.end_time = _epoch(end_time)
        self.route: CraftRoute = route_from_kwargs(route or {"kind": RouteKind.SDK})
        self.poll_interval = float(poll_interval)
        self.finish = finish
        self.execution_url = execution_url
        self.live_logs = live_logs
        self.start = start

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Classpath and the (secret-free) keyword arguments to rebuild the trigger."""
        return (
            CLASSPATH,
            {
                "execution_id": self.execution_id,
                "conn_id": self.conn_id,
                "end_time": self.end_time,
                "route": self.route.to_kwargs(),
                "poll_interval": self.poll_interval,
                "finish": self.finish,
                "execution_url": self.execution_url,
                "live_logs": self.live_logs,
                "start": self.start,
            },
        )

    def _hook(self) -> CraftAIAsyncHook:
        # Imported when run, after load_async_hook: a task building the trigger to defer does not
        # need aiohttp, and the triggerer's loop must not stall on the import.
        from craft_airflow.hooks.craft_async import CraftAIAsyncHook

        return CraftAIAsyncHook(self.conn_id)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Wait, then yield exactly one event: the task's end (with ``finish``), else
        ``WaitOutcome.to_event()`` for the worker to resume with."""
        if self.start is not None:
            refused = await self._start_here(StartPlan.from_kwargs(self.start))
            if refused is not None:
                yield refused
                return
        outcome = await self._outcome()
        if self.finish is None:
            yield TriggerEvent(outcome.to_event())
            return
        plan = FinishPlan.from_kwargs(self.finish)
        event = await finish_event(self._hook(), plan, outcome, self.route, self.log)
        yield await push_xcoms(event, self.task_instance)

    async def _start_here(self, plan: StartPlan) -> BaseTaskEndEvent | None:
        """What the sensor's ``execute`` does on a worker before deferring, for a task that
        started on the triggerer; a failed end event when it cannot start (the task fails, as
        it would on a worker)."""
        execution_id = self.execution_id
        problem = rendered_id_problem(execution_id)
        if problem is not None:
            self.log.error("Task failed: %s", problem)
            return TaskFailedEvent(xcoms=None)
        await load_async_hook()
        hook = self._hook()
        try:
            config = await hook.get_config()
            self.route = route_for(
                config, endpoint_name=plan.endpoint_name, endpoint_url_path=plan.endpoint_url_path
            )
        except Exception as exc:  # e.g. no such connection: the task fails, naming it
            self.log.error("Task failed: %s: %s", type(exc).__name__, clean(str(exc)))
            return TaskFailedEvent(xcoms=None)
        finally:
            await hook.aclose()
        try:
            self.execution_url = config.execution_url(
                execution_id, pipeline_name=None, deployment_name=plan.endpoint_name
            )
        except Exception as err:  # a broken link template must not fail the task
            self.log.warning("Cannot build the Craft AI execution URL: %s", err)
        finish = plan.finish_plan(
            self.task_instance,
            execution_id,
            config_output_storage=config.output_storage,
            execution_url=self.execution_url,
        )
        # What announce_execution pushes on a worker: the link works while the task waits.
        await aset_xcoms(self.task_instance, finish.xcoms)
        self.log.info(
            "Started on the triggerer: Craft AI execution %s%s",
            execution_id,
            f": {self.execution_url}" if self.execution_url else "",
        )
        self.finish = finish.to_kwargs()
        self.end_time = plan.end_time(getattr(self, "timeout_after", None))
        self.poll_interval = plan.poll_interval
        enabled = config.live_logs if plan.live_logs is None else plan.live_logs
        if enabled and self.route.logs_read(execution_id) is not None:
            interval = plan.live_logs_interval or config.live_logs_interval
            self.live_logs = {"interval": interval, "cursor": None}
        return None

    async def _outcome(self) -> WaitOutcome:
        timeout = None if self.end_time is None else self.end_time - time.time()
        if timeout is not None and timeout <= 0:
            return timeout_outcome(self.execution_id, 0)
        await load_async_hook()
        hook = self._hook()
        try:
            return await self.route.await_outcome(
                hook,
                self.execution_id,
                timeout=timeout,
                poll_interval=self.poll_interval,
                live=await self._live(),
            )
        except Exception as exc:
            # Every failure to follow becomes an ``error`` event: the task then fails with the
            # message instead of the trigger dying without an event.
            self.log.warning("Cannot follow Craft AI execution %s: %s", self.execution_id, exc)
            return error_outcome(
                self.execution_id, clean(f"Could not follow execution {self.execution_id}: {exc}")
            )
        finally:
            await hook.aclose()

    async def _live(self) -> LiveLogs | None:
        """The live logs of this wait, from the cursor of the kwargs or the one this trigger
        kept (an earlier run of it, before a triggerer restart), whichever is further on."""
        if not self.live_logs:
            return None
        cursor = LogCursor.from_kwargs(self.live_logs.get("cursor")) or LogCursor()
        cursor = cursor.later(await self._kept_cursor())
        interval = float(self.live_logs.get("interval") or DEFAULT_LIVE_LOGS_INTERVAL)
        state = Following(self.execution_id, cursor=cursor)
        return LiveLogs(state, max(interval, MIN_LIVE_LOGS_INTERVAL), self.log, self._keep_cursor)

    def _xcom_where(self) -> dict[str, Any] | None:
        ti = self.task_instance
        if ti is None or task_runner_comms() is None:
            return None  # run outside a triggerer (dag.test(), a benchmark): nowhere to keep it
        return {
            "dag_id": ti.dag_id,
            "task_id": ti.task_id,
            "run_id": ti.run_id,
            "map_index": ti.map_index,
        }

    async def _kept_cursor(self) -> LogCursor | None:
        where = self._xcom_where()
        if where is None:
            return None
        try:
            answer = await task_runner.SUPERVISOR_COMMS.asend(GetXCom(key=LOG_CURSOR_KEY, **where))
            kept = BaseXCom.deserialize_value(answer) if isinstance(answer, XComResult) else None
        except Exception as err:  # only more repeats: never a reason to fail the wait
            self.log.debug("Cannot read the kept live log cursor: %s", err)
            return None
        return LogCursor.from_kept(kept, self.execution_id)

    async def _keep_cursor(self, cursor: LogCursor) -> None:
        where = self._xcom_where()
        if where is None:
            return
        value = cursor.kept(self.execution_id)
        serialized = BaseXCom.serialize_value(value, key=LOG_CURSOR_KEY, **where)
        await task_runner.SUPERVISOR_COMMS.asend(
            SetXCom(key=LOG_CURSOR_KEY, value=serialized, **where)
        )

    async def on_kill(self) -> None:
        """A user killed the deferred task (Airflow 3.3+ calls this then): the platform has no
        cancel call (§5.9), so say in the task log that the execution keeps running, and where
        to see it. No I/O."""
        self.log.warning(killed_message(self.execution_id, self.execution_url))


async def finish_event(
    hook: CraftAIAsyncHook,
    plan: FinishPlan,
    outcome: WaitOutcome,
    route: CraftRoute,
    log: Logger,
) -> BaseTaskEndEvent:
    """The task's end for the wait's ``outcome``: the steps of
    :func:`~craft_airflow.ending.ending_steps` (what a worker's ``finish_execution`` drives),
    driven on the event loop, then the end event with the XComs a worker would push."""
    from craft_airflow.hooks.craft_async import adrive_ending  # loaded by load_async_hook

    def output_dir() -> ObjectStoragePath:
        return ObjectStoragePath(plan.output_dir, conn_id=plan.output_conn_id)

    try:
        ending = await adrive_ending(hook, ending_steps(outcome, route, output_dir), log)
    except Exception as err:  # e.g. the outputs could not be read or stored: the task fails
        log.error("Task failed: %s: %s", type(err).__name__, err)
        return TaskFailedEvent(xcoms=plan.end_xcoms(None))
    return end_event(ending, plan, log)


def end_event(ending: Ending, plan: FinishPlan, log: Logger) -> BaseTaskEndEvent:
    """The end event for ``ending``: what a worker would return or raise, as an event."""
    if ending.status == OutcomeStatus.SUCCESS:
        log.info("Task ended on the triggerer: success")
        return TaskSuccessEvent(xcoms=plan.end_xcoms(ending.outputs, ending.metrics))
    if ending.status == OutcomeStatus.SKIPPED:
        log.info("Task skipped: %s", ending.message)
        return TaskSkippedEvent(xcoms=plan.end_xcoms(None))
    log.error("Task failed: %s: %s", type(ending.error).__name__, ending.error)
    return TaskFailedEvent(xcoms=plan.end_xcoms(None, ending.metrics))


async def push_xcoms(event: BaseTaskEndEvent, task_instance: Any) -> BaseTaskEndEvent:
    """Push the end event's XComs through the triggerer's supervisor (the Execution API, as a
    worker pushes them); the same event without them.

    Airflow 3.3 pushes an end event's ``xcoms`` with ``XComModel.set``, which JSON-encodes each
    value once more than a worker does: a downstream task then pulls the JSON text (a ``str``),
    not the dict or number. A trigger run outside a triggerer has no task instance
    (``dag.test()`` runs it inline): the event keeps its XComs.

    :param event: what ``finish_event`` returned.
    :param task_instance: the trigger's ``task_instance`` (``dag_id``, ``task_id``, ``run_id``,
        ``map_index``), or ``None``.
    """
    if not event.xcoms or not await aset_xcoms(task_instance, event.xcoms):
        return event
    return type(event)(xcoms=None)


async def aset_xcoms(task_instance: Any, xcoms: Mapping[str, Any]) -> bool:
    """Push ``xcoms`` for ``task_instance`` through the triggerer's supervisor, as a worker
    pushes them; ``False`` when there is no triggerer to push through (a trigger run inline)."""
    if not xcoms or task_instance is None or task_runner_comms() is None:
        return False
    # What ``BaseXCom.aset`` does in newer Task SDKs (3.1's has no ``aset``).
    where = {
        "dag_id": task_instance.dag_id,
        "task_id": task_instance.task_id,
        "run_id": task_instance.run_id,
        "map_index": task_instance.map_index,
    }
    for key, value in xcoms.items():
        serialized = BaseXCom.serialize_value(value, key=key, **where)
        await task_runner.SUPERVISOR_COMMS.asend(SetXCom(key=key, value=serialized, **where))
    return True
