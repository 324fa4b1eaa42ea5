"""CraftExecutionTrigger: waits for a Craft AI execution on the triggerer, for operators and
the sensor alike, and fires exactly one event from the closed set of
:class:`~craft_airflow.statuses.TriggerEventStatus`."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from craft_airflow.errors import redact
from craft_airflow.statuses import ExecutionEvent, error_event, timeout_event

if TYPE_CHECKING:
    from craft_airflow.hooks.craft_async import CraftAIAsyncHook

CLASSPATH = "craft_airflow.triggers.execution.CraftExecutionTrigger"


def _epoch(value: float | datetime | None) -> float | None:
    if value is None or isinstance(value, int | float):
        return value
    return value.timestamp()


class CraftExecutionTrigger(BaseTrigger):
    """Wait for an execution to end and fire one event carrying an ``ExecutionEvent`` dict.

    The trigger holds no secret: it re-reads the connection on the triggerer.

    :param execution_id: the execution to follow.
    :param conn_id: the ``craftai`` connection.
    :param end_time: wall-clock deadline (epoch seconds, or an aware datetime); past it the event
        is ``timeout`` and the execution keeps running. ``None``: no deadline.
    :param endpoint_name: with an endpoint-token-only connection, the deployment whose results
        route is polled.
    :param endpoint_url_path: that endpoint's public path (defaults to ``endpoint_name``).
    :param poll_interval: pause after a "not yet" answered in under a second.
    """

    def __init__(
        self,
        execution_id: str,
        conn_id: str,
        *,
        end_time: float | datetime | None = None,
        endpoint_name: str | None = None,
        endpoint_url_path: str | None = None,
        poll_interval: float = 5.0,
    ) -> None:
        super().__init__()
        self.execution_id = execution_id
        self.conn_id = conn_id
        self.end_time = _epoch(end_time)
        self.endpoint_name = endpoint_name
        self.endpoint_url_path = endpoint_url_path
        self.poll_interval = float(poll_interval)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Classpath and the (secret-free) keyword arguments to rebuild the trigger."""
        return (
            CLASSPATH,
            {
                "execution_id": self.execution_id,
                "conn_id": self.conn_id,
                "end_time": self.end_time,
                "endpoint_name": self.endpoint_name,
                "endpoint_url_path": self.endpoint_url_path,
                "poll_interval": self.poll_interval,
            },
        )

    def _hook(self) -> CraftAIAsyncHook:
        # Imported when run: a task building the trigger to defer does not need the async hook.
        from craft_airflow.hooks.craft_async import CraftAIAsyncHook

        return CraftAIAsyncHook(self.conn_id)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Wait, then yield exactly one event (``ExecutionEvent.to_dict()``)."""
        yield TriggerEvent((await self._outcome()).to_dict())

    async def _outcome(self) -> ExecutionEvent:
        timeout = None if self.end_time is None else self.end_time - time.time()
        if timeout is not None and timeout <= 0:
            return timeout_event(self.execution_id, 0)
        hook = self._hook()
        try:
            return await hook.wait_for_execution(
                self.execution_id,
                timeout=timeout,
                endpoint_name=self.endpoint_name,
                endpoint_url_path=self.endpoint_url_path,
                poll_interval=self.poll_interval,
            )
        except Exception as exc:
            # Every failure to follow becomes an ``error`` event: the task then fails with the
            # message instead of the trigger dying without an event.
            self.log.warning("Cannot follow Craft AI execution %s: %s", self.execution_id, exc)
            return error_event(
                self.execution_id,
                redact(f"Could not follow execution {self.execution_id}: {exc}"),
            )
        finally:
            await hook.aclose()

    async def on_kill(self) -> None:
        """The platform has no cancel call (contract §5.9): log it, never block."""
        self.log.warning(
            "Craft AI execution %s keeps running: the platform offers no way to cancel it.",
            self.execution_id,
        )
