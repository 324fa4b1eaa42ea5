"""The scheduler of periodic deployments: creates their executions on schedule.

Each due tick is first claimed in the store (one row per deployment and tick, unique), then its
execution is created through :func:`craft_local.launch.start_execution`, the path of every other
execution, so the runtime (process or kubernetes) runs it like any other. A tick claimed twice
(two loops, a restart) creates nothing the second time.

Missed ticks (the platform was stopped, or the loop fell behind): only the latest due tick
runs; the earlier ones are counted in its trace note and logged (docs/platform-contract.md §6.5).
A tick claimed whose execution was never created (a crash in between) is marked ``lost`` at the
next start, with a warning.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from craft_local.deployments import SCHEDULE_SINCE
from craft_local.errors import PlatformError
from craft_local.launch import start_execution
from craft_local.mappings import InputContext, deployment_outputs, resolve_endpoint_inputs
from craft_local.schedules import due_tick
from craft_local.store import now_iso

if TYPE_CHECKING:
    from craft_local.state import Platform

log = logging.getLogger("craft_local.scheduler")

#: Seconds between two looks at the schedules (ticks are whole minutes).
INTERVAL_S = 1.0


def parse_iso(value: str) -> datetime:
    """A platform date (``…Z``) as an aware UTC datetime."""
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


class Scheduler:
    """Runs the due ticks of enabled periodic deployments.

    :param platform: the platform whose deployments it schedules.
    :param clock: epoch seconds now; tests freeze it with :meth:`freeze`.
    """

    def __init__(self, platform: Platform, clock: Callable[[], float] = time.time) -> None:
        self.platform = platform
        self._clock = clock
        self._frozen: float | None = None
        self._lock = asyncio.Lock()

    def now(self) -> datetime:
        """The scheduler's clock, UTC."""
        ts = self._clock() if self._frozen is None else self._frozen
        return datetime.fromtimestamp(ts, UTC)

    def now_iso(self) -> str:
        return now_iso(self.now().timestamp())

    def freeze(self, at: datetime | None) -> None:
        """Stop the clock at ``at`` (the loop then leaves ticks to :meth:`run_due`); ``None``
        lets it run again."""
        self._frozen = None if at is None else at.timestamp()

    @property
    def frozen(self) -> bool:
        return self._frozen is not None

    def mark_lost_ticks(self) -> int:
        """At start: ticks claimed before a crash whose execution was never created."""
        store = self.platform.store
        lost = store.claimed_ticks()
        for tick in lost:
            store.end_tick(
                tick["deployment_name"],
                tick["tick"],
                "lost",
                note="the platform stopped after claiming the tick, before creating its execution",
            )
            log.warning(
                "deployment %s: tick %s lost (the platform stopped before its execution was"
                " created)",
                tick["deployment_name"],
                tick["tick"],
            )
        return len(lost)

    async def run_due(self) -> list[str]:
        """Create the executions of every due tick now; return their ids."""
        async with self._lock:
            started = []
            now = self.now()
            for deployment in self.platform.store.list_deployments():
                if deployment["execution_rule"] != "periodic" or not deployment["is_enabled"]:
                    continue
                execution_id = await self._run_deployment(deployment, now)
                if execution_id is not None:
                    started.append(execution_id)
            return started

    async def _run_deployment(self, deployment: dict[str, Any], now: datetime) -> str | None:
        store = self.platform.store
        name = deployment["name"]
        since = parse_iso(deployment.get(SCHEDULE_SINCE) or deployment["created_at"])
        last = store.last_tick(name)
        after = max(since, parse_iso(last)) if last else since
        due = due_tick(deployment["schedule"], after, now)
        if due is None:
            return None
        tick = now_iso(due.tick.timestamp())
        if not store.claim_tick(name, tick, due.note()):
            return None
        if due.missed:
            log.warning("deployment %s: tick %s runs; %s", name, tick, due.note())
        try:
            execution_id = await _start(self.platform, deployment)
        except PlatformError as exc:
            store.end_tick(name, tick, "not started", note=f"{exc.name}: {exc.message}")
            log.warning("deployment %s: tick %s started no execution: %s", name, tick, exc.message)
            return None
        store.end_tick(name, tick, "started", execution_id)
        log.info("deployment %s: tick %s started execution %s", name, tick, execution_id)
        return execution_id

    async def loop(self, stopping: asyncio.Event) -> None:
        """Look at the schedules every :data:`INTERVAL_S` until ``stopping`` is set."""
        while not stopping.is_set():
            if not self.frozen and not self.platform.stopping.is_set():
                try:
                    await self.run_due()
                except Exception:  # keep scheduling: one bad deployment must not stop the rest
                    log.exception("scheduler: a look at the schedules failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), INTERVAL_S)


async def _start(platform: Platform, deployment: dict[str, Any]) -> str:
    """Create one execution of a periodic deployment from its mappings."""
    record = platform.store.get_pipeline(deployment["pipeline"]["name"])
    if record is None:
        raise PlatformError(409, "PipelineNotFound", "The deployment's pipeline was deleted.")
    parameters = record["parameters"]

    def resolve(
        ctx: InputContext, files: dict[str, str]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        inputs = resolve_endpoint_inputs(deployment, parameters, {}, files, ctx)
        return inputs, deployment_outputs(deployment, parameters)

    return await start_execution(
        platform,
        parameters["pipeline_name"],
        deployment["name"],
        {},
        resolve,
        deployment.get("execution_timeout_s"),
    )
