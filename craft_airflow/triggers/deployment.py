"""Triggers following a deployment's executions, which Airflow did not start:
:class:`CraftDeploymentExecutionTrigger` (one event, the next finished execution, for the
sensor) and :class:`CraftDeploymentEventTrigger` (an ``AssetWatcher``'s event trigger: one event
per finished execution, with a watermark)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseEventTrigger, BaseTrigger, TriggerEvent

from craft_airflow.errors import clean
from craft_airflow.protocol.deployments import (
    Watermark,
    execution_payload,
    is_failed,
    next_finished,
    outputs_by_name,
    parse_date,
)
from craft_airflow.protocol.readers import execution_error_message
from craft_airflow.triggers.execution import load_async_hook

if TYPE_CHECKING:
    from craft_airflow.hooks.craft_async import CraftAIAsyncHook

#: ``asset_state_store`` key of the watermark (Airflow 3.3+): renaming it restarts every watch.
WATERMARK_KEY = "craft_deployment_watermark"


def _hook(conn_id: str) -> CraftAIAsyncHook:
    from craft_airflow.hooks.craft_async import CraftAIAsyncHook

    return CraftAIAsyncHook(conn_id)


async def read_payload(
    hook: CraftAIAsyncHook, item: Mapping[str, Any], conn_id: str
) -> dict[str, Any]:
    """The event payload of a finished execution: outputs when it succeeded, else the
    platform's message."""
    execution_id = str(item.get("execution_id"))
    if is_failed(item):
        execution = await hook.get_execution(execution_id)
        return execution_payload(item, None, execution_error_message(execution))
    outputs = outputs_by_name(await hook.get_outputs(execution_id), conn_id, execution_id)
    return execution_payload(item, outputs)


async def pipeline_of(hook: CraftAIAsyncHook, deployment_name: str) -> str:
    """The deployed pipeline's name (executions are listed by pipeline, §6.2)."""
    deployment = await hook.get_deployment(deployment_name)
    return str((deployment.get("pipeline") or {}).get("name"))


class CraftDeploymentExecutionTrigger(BaseTrigger):
    """Wait for a deployment's next finished execution created after ``after``; fire one event:
    ``{"outcome": "finished", **payload}``, ``{"outcome": "timeout"}`` or
    ``{"outcome": "error", "message"}``. Holds no secret.

    :param deployment_name: the deployment.
    :param after: ISO date; only executions created after it count.
    :param conn_id: the ``craftai`` connection (its SDK token is read on the triggerer).
    :param poll_interval: seconds between two listings.
    :param end_time: epoch seconds past which the event is ``timeout``; ``None``: no deadline.
    """

    def __init__(
        self,
        deployment_name: str,
        after: str,
        conn_id: str,
        *,
        poll_interval: float = 10.0,
        end_time: float | None = None,
    ) -> None:
        BaseTrigger.__init__(self)
        self.deployment_name = deployment_name
        self.after = after
        self.conn_id = conn_id
        self.poll_interval = float(poll_interval)
        self.end_time = end_time

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{__name__}.CraftDeploymentExecutionTrigger",
            {
                "deployment_name": self.deployment_name,
                "after": self.after,
                "conn_id": self.conn_id,
                "poll_interval": self.poll_interval,
                "end_time": self.end_time,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        after = parse_date(self.after) or datetime.now(UTC)
        await load_async_hook()
        hook = _hook(self.conn_id)
        try:
            pipeline = await pipeline_of(hook, self.deployment_name)
            while True:
                executions = await hook.list_pipeline_executions(pipeline)
                item = next_finished(executions, self.deployment_name, after)
                if item is not None:
                    payload = await read_payload(hook, item, self.conn_id)
                    yield TriggerEvent({"outcome": "finished", **payload})
                    return
                if self.end_time is not None and time.time() >= self.end_time:
                    yield TriggerEvent({"outcome": "timeout"})
                    return
                await asyncio.sleep(self.poll_interval)
        except Exception as exc:
            self.log.warning("Cannot follow deployment %s: %s", self.deployment_name, exc)
            message = clean(f"Could not follow deployment {self.deployment_name}: {exc}")
            yield TriggerEvent({"outcome": "error", "message": message})
        finally:
            await hook.aclose()


class CraftDeploymentEventTrigger(BaseEventTrigger):
    """An ``AssetWatcher`` trigger: one event per finished execution of a deployment, failed
    ones included (their ``status`` says so; ``outputs`` is ``None`` and ``error`` holds the
    platform's message). The event payload (the asset event's ``extra["payload"]``) is
    :func:`~craft_airflow.protocol.deployments.execution_payload`: execution id, status, outputs
    (values, or ``craft://`` locations of data-store outputs).

    The watermark (which executions were announced) is saved after each event in the watched
    asset's ``asset_state_store`` on Airflow 3.3+, so a triggerer restart resumes where it
    stopped. Without a state store (Airflow 3.1/3.2) the watch starts at ``since``, or at the
    trigger's start when ``since`` is ``None``: see ``docs/deployments.md``.

    :param deployment_name: the deployment to watch.
    :param conn_id: the ``craftai`` connection.
    :param since: ISO date; executions created before it are never announced. ``None``: the
        first start of the watch.
    :param poll_interval: seconds between two listings.
    :param announce_failed: also announce ``Failed``/``Error`` executions.
    """

    def __init__(
        self,
        deployment_name: str,
        conn_id: str,
        *,
        since: str | None = None,
        poll_interval: float = 10.0,
        announce_failed: bool = True,
    ) -> None:
        BaseEventTrigger.__init__(self)
        self.deployment_name = deployment_name
        self.conn_id = conn_id
        self.since = since
        self.poll_interval = float(poll_interval)
        self.announce_failed = announce_failed

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{__name__}.CraftDeploymentEventTrigger",
            {
                "deployment_name": self.deployment_name,
                "conn_id": self.conn_id,
                "since": self.since,
                "poll_interval": self.poll_interval,
                "announce_failed": self.announce_failed,
            },
        )

    # -- the watermark ---------------------------------------------------------------------

    def _state_store(self) -> Any:
        """The watched asset's state store (Airflow 3.3+, one asset per watcher), else ``None``."""
        return getattr(self, "asset_state_store", None)

    async def load_watermark(self) -> Watermark:
        store = self._state_store()
        if store is not None:
            try:
                saved = Watermark.from_json(await store.aget(WATERMARK_KEY))
            except ValueError as exc:  # several assets watched by one trigger
                self.log.warning(
                    "No watermark store for deployment %s: %s", self.deployment_name, exc
                )
                saved = None
            if saved is not None:
                return saved
        return Watermark(parse_date(self.since) or datetime.now(UTC))

    async def save_watermark(self, mark: Watermark) -> None:
        store = self._state_store()
        if store is None:
            return
        with contextlib.suppress(ValueError):  # logged when loading: several assets, no store
            await store.aset(WATERMARK_KEY, mark.to_json())

    # -- watching --------------------------------------------------------------------------

    async def run(self) -> AsyncIterator[TriggerEvent]:
        await load_async_hook()
        hook = _hook(self.conn_id)
        try:
            mark = await self.load_watermark()
            await self.save_watermark(mark)  # the first start's moment survives a restart
            pipeline: str | None = None
            while True:
                try:
                    pipeline = pipeline or await pipeline_of(hook, self.deployment_name)
                    executions = await hook.list_pipeline_executions(pipeline)
                    for item in mark.to_announce(executions, self.deployment_name):
                        if self.announce_failed or not is_failed(item):
                            yield TriggerEvent(await read_payload(hook, item, self.conn_id))
                        mark = mark.announce(item, executions, self.deployment_name)
                        await self.save_watermark(mark)
                except Exception as exc:
                    # The watch outlives an unreachable platform: the next look tries again.
                    self.log.warning(
                        "Watching deployment %s: %s", self.deployment_name, clean(str(exc))
                    )
                await asyncio.sleep(self.poll_interval)
        finally:
            await hook.aclose()
