"""``/_local/scheduler``: the periodic deployments' clock and ticks, for tests and demos.

A test freezes the scheduler's clock at a moment of its choosing, runs the due ticks at once,
and reads a deployment's tick trace, instead of waiting for real minutes.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from craft_local.bodies import documented_body, read_body
from craft_local.errors import PlatformError, bad_request
from craft_local.lookups import deployment_or_404
from craft_local.routers.control import require_sdk_or_access_token
from craft_local.scheduler import Scheduler, parse_iso
from craft_local.state import Platform, PlatformDep

router = APIRouter(prefix="/_local", dependencies=[Depends(require_sdk_or_access_token)])


def _scheduler(platform: Platform) -> Scheduler:
    if not isinstance(platform.scheduler, Scheduler):
        raise PlatformError(409, "NoScheduler", "This platform schedules nothing.")
    return platform.scheduler


@router.put("/scheduler/clock", openapi_extra=documented_body({"now": {"type": "string"}}))
async def set_clock(request: Request, platform: PlatformDep) -> dict[str, Any]:
    """Body ``{"now": "<ISO UTC>"}`` freezes the clock there; ``{"now": null}`` lets it run."""
    scheduler = _scheduler(platform)
    body, _ = await read_body(request)
    value = body.get("now")
    if value is None:
        scheduler.freeze(None)
    else:
        try:
            scheduler.freeze(parse_iso(str(value)))
        except ValueError:
            raise bad_request(
                f"now must be an ISO-8601 date (UTC) or null, got {value!r}."
            ) from None
    return {"now": scheduler.now_iso(), "frozen": scheduler.frozen}


@router.post("/scheduler/run-due")
async def run_due(platform: PlatformDep) -> dict[str, Any]:
    """Create the executions of the ticks due at the scheduler's clock."""
    scheduler = _scheduler(platform)
    return {"now": scheduler.now_iso(), "execution_ids": await scheduler.run_due()}


@router.get("/deployments/{name}/ticks")
async def ticks(name: str, platform: PlatformDep) -> list[dict[str, Any]]:
    """A periodic deployment's claimed ticks: what each became, and the missed ones' note."""
    deployment_or_404(platform.store, name)
    return platform.store.ticks(name)
