"""CraftExecutionTrigger: waits for a Craft AI execution on the triggerer, for operators and
the sensor alike, and fires exactly one event: a :class:`~craft_airflow.outcomes.WaitOutcome`,
its status from the closed set :class:`~craft_airflow.outcomes.OutcomeStatus`."""

from __future__ import annotations

import asyncio
import importlib
import sys
import time
from collections.abc import AsyncIterator, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from craft_airflow.errors import clean
from craft_airflow.outcomes import WaitOutcome, error_outcome, timeout_outcome
from craft_airflow.routes import CraftRoute, RouteKind, route_from_kwargs

if TYPE_CHECKING:
    from craft_airflow.hooks.craft_async import CraftAIAsyncHook

CLASSPATH = "craft_airflow.triggers.execution.CraftExecutionTrigger"
ASYNC_HOOK_MODULE = "craft_airflow.hooks.craft_async"


async def load_async_hook() -> None:
    """Import the async hook in a thread the first time: with aiohttp and requests it takes
    about 0.4 s, which would otherwise stall every other trigger of the triggerer's loop."""
    if ASYNC_HOOK_MODULE not in sys.modules:
        await asyncio.to_thread(importlib.import_module, ASYNC_HOOK_MODULE)


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
        the task itself (outputs, XComs, logs) instead of resuming it on a worker.
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
    ) -> None:
        BaseTrigger.__init__(self)  # not super(): untyped_calls_exclude misses super() calls
        self.execution_id = execution_id
        self.conn_id = conn_id
        self.end_time = _epoch(end_time)
        self.route: CraftRoute = route_from_kwargs(route or {"kind": RouteKind.SDK})
        self.poll_interval = float(poll_interval)
        self.finish = finish

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
            },
        )

    def _hook(self) -> CraftAIAsyncHook:
        # Imported when run: a task building the trigger to defer does not need the async hook.
        from craft_airflow.hooks.craft_async import CraftAIAsyncHook

        return CraftAIAsyncHook(self.conn_id)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Wait, then yield exactly one event: the task's end (with ``finish``), else
        ``WaitOutcome.to_event()`` for the worker to resume with."""
        outcome = await self._outcome()
        if self.finish is None:
            yield TriggerEvent(outcome.to_event())
            return
        from craft_airflow.finishing import FinishPlan, finish_event, push_xcoms

        event = await finish_event(
            self._hook(), FinishPlan.from_kwargs(self.finish), outcome, self.route, self.log
        )
        yield await push_xcoms(event, self.task_instance)

    async def _outcome(self) -> WaitOutcome:
        timeout = None if self.end_time is None else self.end_time - time.time()
        if timeout is not None and timeout <= 0:
            return timeout_outcome(self.execution_id, 0)
        await load_async_hook()
        hook = self._hook()
        try:
            return await self.route.await_outcome(
                hook, self.execution_id, timeout=timeout, poll_interval=self.poll_interval
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

    async def on_kill(self) -> None:
        """The platform has no cancel call (contract §5.9): log it, never block."""
        self.log.warning(
            "Craft AI execution %s keeps running: the platform offers no way to cancel it.",
            self.execution_id,
        )
